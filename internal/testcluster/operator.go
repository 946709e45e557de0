package testcluster

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/bosun-mesh/bosun/internal/repo"
)

// operatorRole plays bosun's operator pods (label app.kubernetes.io/name=bosun,
// as the chart and deploy/bosun.yaml label them) with Options.OperatorBinary,
// so bosun installed from its manifests runs as it runs in a cluster: with the
// container's arguments, and as the pod's ServiceAccount, through a token the
// API server issues for that account and binds to the pod. The operator has
// exactly the permissions its manifests grant (docs/architecture.md#lesson-minimal-rbac), and a
// deleted pod's token stops working with it.
//
// The container's arguments are kept, except that an address flag
// (--flag=[host]:port, such as --metrics-bind-address=:8080) naming a
// container port moves to that port's local address, --resources-dir naming
// the image's chart folder (/resources) names Options.OperatorResources, and
// --kubeconfig names the ServiceAccount's kubeconfig.
type operatorRole struct {
	client    kubernetes.Interface
	config    *rest.Config
	binary    string
	resources string
	// fake, when set, says why operator pods stay fake.
	fake string
}

// imageResourcesDir is where bosun's image keeps the charts of its catalog
// (hack/tools/image).
const imageResourcesDir = "/resources"

// operatorTokenSeconds is how long the token of a played operator lasts. The
// process reads it once; a kubelet would refresh it, a box does not live this
// long.
const operatorTokenSeconds = 7 * 24 * 3600

var operatorLabel = labelPair{"app.kubernetes.io/name", "bosun"}

// newOperatorRole plays operator pods with Options.OperatorBinary; without one,
// or without the charts it reads, they stay fake.
func (c *Cluster) newOperatorRole() (*operatorRole, error) {
	cs, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return nil, err
	}
	r := &operatorRole{client: cs, config: c.config, binary: c.opts.OperatorBinary, resources: c.opts.OperatorResources}
	switch {
	case r.binary == "":
		r.fake = "no bosun-operator executable given (testcluster.Options.OperatorBinary)"
	case r.resources == "":
		// Outside the repository (bosun-dev cluster with the cluster's programs named by
		// environment variables) the box still starts; only the operator's pods stay fake.
		root, err := repo.Root()
		if err != nil {
			r.fake = fmt.Sprintf("no charts for played operators: %v (set Options.OperatorResources)", err)
			break
		}
		r.resources = filepath.Join(root, "resources")
	}
	if r.fake == "" {
		c.boxLogf("operator: bosun's operator pods are played by %s", r.binary)
	}
	return r, nil
}

func (r *operatorRole) name() string { return "operator" }

func (r *operatorRole) label() labelPair { return operatorLabel }

func (r *operatorRole) program(context.Context, *corev1.Pod) (*program, string) {
	if r.fake != "" {
		return nil, r.fake
	}
	return &program{binary: r.binary, what: "bosun-operator"}, ""
}

func (r *operatorRole) args(ctx context.Context, pod *corev1.Pod, args []string, local map[int32]string, workDir string) ([]string, string, error) {
	kubeconfig, err := r.serviceAccountKubeconfig(ctx, pod, workDir)
	if err != nil {
		return nil, "", err
	}
	var out []string
	for _, a := range args {
		out = append(out, operatorArg(a, local, r.resources)...)
	}
	return append(out, "--kubeconfig="+kubeconfig), kubeconfig, nil
}

// operatorArg is a container argument as a played operator gets it (see
// operatorRole): none for --kubeconfig, which the role sets.
func operatorArg(a string, local map[int32]string, resources string) []string {
	name, value, ok := strings.Cut(a, "=")
	switch {
	case !ok || !strings.HasPrefix(name, "--"):
	case name == "--kubeconfig":
		return nil
	case name == "--resources-dir" && value == imageResourcesDir:
		a = name + "=" + resources
	default:
		if addr, ok := localAddress(value, local); ok {
			a = name + "=" + addr
		}
	}
	return []string{a}
}

// localAddress is the local address of a container port named by value
// ([host]:port), if it names one.
func localAddress(value string, local map[int32]string) (string, bool) {
	_, port, err := net.SplitHostPort(value)
	if err != nil {
		return "", false
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		return "", false
	}
	addr, ok := local[int32(n)]
	return addr, ok
}

// serviceAccountKubeconfig writes, in workDir, a kubeconfig that acts as
// pod's ServiceAccount with a token bound to the pod.
func (r *operatorRole) serviceAccountKubeconfig(ctx context.Context, pod *corev1.Pod, workDir string) (string, error) {
	account := pod.Spec.ServiceAccountName
	if account == "" {
		account = "default"
	}
	token, err := r.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, account, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: ptr.To[int64](operatorTokenSeconds),
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("a token of ServiceAccount %s/%s: %w", pod.Namespace, account, err)
	}
	path := filepath.Join(workDir, "kubeconfig")
	cfg := &rest.Config{Host: r.config.Host, BearerToken: token.Status.Token}
	cfg.CAData = r.config.CAData
	return path, writeKubeconfig(path, cfg)
}
