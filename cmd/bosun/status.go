package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/desired"
	"github.com/bosun-mesh/bosun/internal/meshview"
)

type statusOptions struct {
	kubeconfig, context string
	namespaces          []string
	output              string
	watch               bool
	interval            time.Duration
	resources           string
	versionsFile        string
}

// notReady is the error of a status that shows something not Ready: the command exits with 2 and
// says nothing more than the view did.
type notReady struct{}

func (notReady) Error() string { return "" }

// exitCodeNotReady is the exit code of `bosun status` when something is not Ready.
const exitCodeNotReady = 2

func newStatusCommand() *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the mesh: each Istio and its migration, each revision with what uses it, and what is due for a restart",
		Long: `Show the mesh as bosun sees it: for each Istio its version, update strategy, active revision,
whether it is Ready and how far its workloads have moved to the active revision; for each revision
the tags that point at it, the namespaces that select it and by which label, the workloads its
injector injected and their proxy versions; the workloads whose pods run another revision or proxy
than their labels select, with the command that moves each; the node agents; and the finished pods,
which use no revision. A revision's pod count is its IN USE count.

It reads metadata only, in pages. It exits with 2 when an Istio, revision or node agent is not
Ready, so that a script can wait on it.`,
		Example: `  bosun status
  bosun status -n bookinfo -o json
  kubectl bosun status --watch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "context in that kubeconfig (default: its current context)")
	f.StringSliceVarP(&o.namespaces, "namespace", "n", nil, "show only these namespaces' workloads (repeat, or separate with commas)")
	f.StringVarP(&o.output, "output", "o", "text", "text, json or yaml ("+meshview.APIVersion+")")
	f.BoolVarP(&o.watch, "watch", "w", false, "redraw whenever the view changes")
	f.DurationVar(&o.interval, "interval", 5*time.Second, "how often --watch reads the cluster (each read lists what bosun status reads)")
	f.StringVar(&o.resources, "resources-dir", "", "folder of fetched charts, to resolve tags that name an Istio as the operator does (default: $"+catalog.EnvResources+", else ./resources)")
	f.StringVar(&o.versionsFile, "versions-file", "", "version catalog to use instead of the built-in one (also $"+catalog.EnvFile+")")
	return cmd
}

func runStatus(ctx context.Context, out, errOut io.Writer, o *statusOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	switch o.output {
	case "text", "json", "yaml":
	default:
		return fmt.Errorf("--output %q: use text, json or yaml", o.output)
	}
	env, err := statusEnv(o, errOut)
	if err != nil {
		return err
	}
	_, cfg, err := clusterClient(o.kubeconfig, o.context)
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := errors.Join(v1.AddToScheme(scheme), appsv1.AddToScheme(scheme)); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	style := meshview.Style{Color: o.output == "text" && colourful(out)}
	var last []byte
	for {
		snap, err := meshview.Read(ctx, c, mc)
		if err != nil {
			return err
		}
		st := meshview.Build(env, snap, o.namespaces...)
		var view bytes.Buffer
		if err := printStatus(&view, st, o.output, style); err != nil {
			return err
		}
		if !o.watch {
			if _, err := out.Write(view.Bytes()); err != nil {
				return err
			}
			if !st.Ready {
				return notReady{}
			}
			return nil
		}
		if !bytes.Equal(view.Bytes(), last) {
			switch {
			case style.Color:
				fmt.Fprint(out, "\x1b[H\x1b[2J")
			case last == nil:
			case o.output == "text":
				fmt.Fprintf(out, "\n--- %s\n", time.Now().Format(time.TimeOnly))
			case o.output == "yaml":
				fmt.Fprint(out, "---\n")
			}
			// JSON views follow each other as a stream of JSON values.
			if _, err := out.Write(view.Bytes()); err != nil {
				return err
			}
			last = view.Bytes()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.interval):
		}
	}
}

// statusEnv is what bosun decides with: the catalog, and the charts when they are there. Without
// charts, a tag that names an Istio is counted where its webhook points (its status), which is
// where it points except while the Istio's new revision is coming up.
func statusEnv(o *statusOptions, errOut io.Writer) (desired.Env, error) {
	cat, err := catalog.Load(o.versionsFile)
	if err != nil {
		return desired.Env{}, err
	}
	charts, err := catalog.Charts(o.resources)
	if err != nil {
		if o.resources != "" {
			return desired.Env{}, err
		}
		return desired.Env{Catalog: cat, Resources: noCharts{}}, nil
	}
	return desired.Env{Catalog: cat, Resources: charts}, nil
}

// noCharts is a folder of charts with nothing in it: with it, a tag that names an Istio resolves only
// through its status.
type noCharts struct{}

func (noCharts) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func printStatus(out io.Writer, st meshview.Status, output string, style meshview.Style) error {
	switch output {
	case "json":
		data, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", data)
		return err
	case "yaml":
		data, err := yaml.Marshal(st)
		if err != nil {
			return err
		}
		_, err = out.Write(data)
		return err
	}
	return st.Text(out, style)
}

// colourful reports whether out is a terminal that takes colours: not when NO_COLOR is set
// (no-color.org).
func colourful(out io.Writer) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	f, ok := out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// exitCode is the process's exit code for the error a command returned.
func exitCode(err error) int {
	if errors.As(err, new(notReady)) {
		return exitCodeNotReady
	}
	return 1
}
