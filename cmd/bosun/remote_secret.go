package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/remotesecret"
)

// remoteSecretOptions are the flags of `bosun create-remote-secret`.
type remoteSecretOptions struct {
	remotesecret.Options
	typ                         string
	kubeconfig, context         string
	targetKubeconfig, targetCtx string
	apply, dryRun               bool
}

func newCreateRemoteSecretCommand() *cobra.Command {
	o := &remoteSecretOptions{}
	cmd := &cobra.Command{
		Use:   "create-remote-secret --name CLUSTER",
		Short: "Make the Secret through which an istiod in another cluster reads this one",
		Long: `create-remote-secret gives an istiod in another cluster (the target) access to this one (the
source, reached with --kubeconfig and --context): in the source it makes a ServiceAccount's token,
and it prints the Secret, for the target's control-plane namespace, that holds a kubeconfig with it,
labelled as istiod's multicluster controller expects. With --apply it writes the Secret into the
target (--target-kubeconfig, --target-context) instead of printing it.

--type remote (the default) is for multi-primary and primary-remote meshes: the target's istiod
discovers the source's services and endpoints. The ServiceAccount is istio-reader-service-account,
to which the istiod chart of the source's Istio binds Istio's reader role; bosun creates the account
when it is missing, never a role, and refuses, creating nothing, when the account may not list what
istiod discovers (install the source's Istio first).
--type config is for an external control plane: the external istiod reads its configuration from
the source through the ServiceAccount istiod, which the source's Istio (profile remote with
values.global.configCluster: true) creates.

--dry-run reads the source and prints what would be created, with no token, and creates nothing.
The token is only ever in the Secret printed or applied: progress goes to standard error, and never
holds it.`,
		Example: `  # multi-primary: each cluster's istiod reads the other
  bosun create-remote-secret --context cluster1 --name cluster1 | kubectl --context cluster2 apply -f -
  bosun create-remote-secret --context cluster2 --name cluster2 --apply --target-context cluster1

  # external control plane: the external istiod reads its configuration from the remote cluster
  bosun create-remote-secret --context remote --name remote --type config --namespace external-istiod \
    --apply --target-context external`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCreateRemoteSecret(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Cluster, "name", "", "the source cluster's name, as the target's istiod knows it (values.global.multiCluster.clusterName)")
	f.StringVar(&o.typ, "type", string(remotesecret.Remote), "remote: the target's istiod discovers the source's services; config: an external istiod reads its configuration from the source")
	f.StringVar(&o.Namespace, "namespace", "istio-system", "the source's control-plane namespace, where the ServiceAccount is")
	f.StringVar(&o.TargetNamespace, "target-namespace", "", "the target's istiod namespace, where the Secret goes (default: --namespace)")
	f.StringVar(&o.ServiceAccount, "service-account", "", "the source's ServiceAccount whose token the Secret holds (default: "+remotesecret.ReaderServiceAccount+" for remote, "+remotesecret.ConfigServiceAccount+" for config); it must exist")
	f.StringVar(&o.Server, "server", "", "the source's API server address as the target's istiod reaches it (default: the one --kubeconfig names)")
	f.DurationVar(&o.TokenTimeout, "token-timeout", 30*time.Second, "how long to wait for the source's token controller to fill the token")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the source cluster (default: $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "context of the source cluster in that kubeconfig (default: its current context)")
	f.BoolVar(&o.apply, "apply", false, "write the Secret into the target cluster instead of printing it")
	f.StringVar(&o.targetKubeconfig, "target-kubeconfig", "", "kubeconfig of the target cluster, for --apply (default: the source's kubeconfig)")
	f.StringVar(&o.targetCtx, "target-context", "", "context of the target cluster, for --apply")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be created, without a token, and create nothing")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func runCreateRemoteSecret(cmd *cobra.Command, o *remoteSecretOptions) error {
	o.Type = remotesecret.Type(o.typ)
	if o.apply && o.targetKubeconfig == "" && o.targetCtx == "" {
		return fmt.Errorf("--apply writes into the target cluster: name it with --target-context (and --target-kubeconfig when it is in another file)")
	}
	source, sourceCfg, err := clusterClient(o.kubeconfig, o.context)
	if err != nil {
		return fmt.Errorf("the source cluster: %w", err)
	}
	server := o.Server
	if server == "" {
		server = sourceCfg.Host
		if u, err := url.Parse(server); err == nil && (strings.HasPrefix(u.Hostname(), "127.") || u.Hostname() == "localhost" || u.Hostname() == "::1") {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: the kubeconfig reaches the source at %s, which an istiod elsewhere may not reach; set --server to the address it does\n", server)
		}
	}
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	if o.dryRun {
		access, err := remotesecret.Plan(ctx, source, o.Options)
		if err != nil {
			return err
		}
		secret, err := remotesecret.Secret(o.Options, server, []byte("<the source's CA>"), []byte("<a token made on a real run>"))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "# dry run: nothing was created. In the source cluster, bosun would create:\n")
		if err := printYAML(out, access.Objects()...); err != nil {
			return err
		}
		where := "print"
		if o.apply {
			where = "apply in the target cluster"
		}
		fmt.Fprintf(out, "# and %s this Secret, with the token filled in:\n", where)
		return printYAML(out, secret)
	}
	var target client.Client
	if o.apply {
		kubeconfig := o.targetKubeconfig
		if kubeconfig == "" {
			kubeconfig = o.kubeconfig
		}
		if target, _, err = clusterClient(kubeconfig, o.targetCtx); err != nil {
			return fmt.Errorf("the target cluster: %w", err)
		}
	}
	secret, access, err := remotesecret.Create(ctx, source, server, o.Options)
	if err != nil {
		return err
	}
	for _, obj := range access.Objects() {
		fmt.Fprintf(cmd.ErrOrStderr(), "source: %s %s/%s applied\n", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName())
	}
	if !o.apply {
		return printYAML(out, secret)
	}
	if err := remotesecret.Apply(ctx, target, secret); err != nil {
		return err
	}
	fmt.Fprintf(out, "secret/%s applied in namespace %s of the target cluster: its istiod reads cluster %s through it\n", secret.Name, secret.Namespace, o.Cluster)
	return nil
}

// clusterClient reaches the cluster of a kubeconfig's context ("" for the default file or the current
// context).
func clusterClient(kubeconfig, context string) (client.Client, *rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.Scheme})
	return c, cfg, err
}

// printYAML prints objects as a YAML stream.
func printYAML(out io.Writer, objs ...client.Object) error {
	for _, obj := range objs {
		data, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}
