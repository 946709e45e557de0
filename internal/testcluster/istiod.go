package testcluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/bosun-mesh/bosun/internal/repo"
)

// istiodRole plays istiod's pods (label app=istiod, any revision, any
// namespace) with the pilot-discovery built for the pod's Istio version (see
// istiodBinaries.pick), run with the box's admin kubeconfig. istiod's
// default file paths (./etc/istio/config/mesh, ./var/lib/istio/inject,
// ./etc/cacerts) are relative, so the ConfigMaps and Secrets the player
// materialises in the process's directory are where it looks.
type istiodRole struct {
	dynamic    dynamic.Interface
	bins       istiodBinaries
	kubeconfig string
}

// IstiodBinDirEnv names the environment variable that, when set, is the
// directory holding <catalog version>/pilot-discovery, used instead of the
// repository's bin/istiod.
const IstiodBinDirEnv = "BOSUN_ISTIOD_BIN"

// pilotListeners maps istiod's container ports to the pilot-discovery flags
// that move their listener. Any other container port is routed to nothing.
var pilotListeners = map[int32]string{
	8080:  "--httpAddr",
	15010: "--grpcAddr",
	15012: "--secureGRPCAddr",
	15014: "--monitoringAddr",
	15017: "--httpsAddr",
}

var istiodLabel = labelPair{"app", "istiod"}

var istioRevisionResource = schema.GroupVersionResource{Group: "sailoperator.io", Version: "v1", Resource: "istiorevisions"}

// newIstiodRole finds the pilot-discovery builds.
func (c *Cluster) newIstiodRole() (*istiodRole, error) {
	dyn, err := dynamic.NewForConfig(c.config)
	if err != nil {
		return nil, err
	}
	bins, err := findIstiodBinaries(c.opts)
	if err != nil {
		return nil, err
	}
	if len(bins) == 0 {
		c.boxLogf("istiod: no pilot-discovery built (run `make istiod-bins`): istiod pods stay fake")
	} else {
		c.boxLogf("istiod: pods are played by pilot-discovery %s", strings.Join(bins.versions(), ", "))
	}
	return &istiodRole{dynamic: dyn, bins: bins, kubeconfig: c.kubeconfig}, nil
}

func (r *istiodRole) name() string { return "istiod" }

func (r *istiodRole) label() labelPair { return istiodLabel }

func (r *istiodRole) program(ctx context.Context, pod *corev1.Pod) (*program, string) {
	version := r.version(ctx, pod)
	binary, ok := r.bins.pick(version)
	if !ok {
		return nil, fmt.Sprintf("no pilot-discovery built for Istio %q", version)
	}
	return &program{binary: binary, what: "pilot-discovery " + version}, ""
}

// args moves istiod's listeners to the local addresses, ctrlz (not a pod
// port, but it would collide) to a free port, and gives it the box's admin
// kubeconfig.
func (r *istiodRole) args(_ context.Context, pod *corev1.Pod, args []string, local map[int32]string, workDir string) ([]string, string, error) {
	ctrlz, err := freePorts(1)
	if err != nil {
		return nil, "", err
	}
	for _, port := range slices.Sorted(maps.Keys(local)) {
		if flag, ok := pilotListeners[port]; ok {
			args = append(args, flag+"="+local[port])
		}
	}
	if _, ok := local[15017]; !ok {
		return nil, "", errors.New("the container has no webhook port 15017")
	}
	kubeconfig := r.configCluster(pod, workDir)
	return append(args,
		"--kubeconfig="+kubeconfig,
		"--ctrlz_port="+strconv.Itoa(ctrlz[0]),
		// The pod is gone when the player stops the process; istiod's
		// default 10 seconds of draining serve no client here.
		"--shutdownDuration=1s",
	), kubeconfig, nil
}

// configCluster is the kubeconfig istiod runs with. istiod reads the file its
// KUBECONFIG names when one is there: Istio's chart mounts the Secret
// istio-kubeconfig at that path, which for an external control plane reaches
// the cluster istiod takes its configuration from (bosun create-remote-secret
// --type config). The player has materialised that Secret under workDir.
// Without it, istiod runs with the box's admin kubeconfig, as its in-cluster
// identity.
func (r *istiodRole) configCluster(pod *corev1.Pod, workDir string) string {
	for _, c := range pod.Spec.Containers {
		for _, e := range c.Env {
			if e.Name != "KUBECONFIG" || !filepath.IsAbs(e.Value) {
				continue
			}
			local := filepath.Join(workDir, filepath.FromSlash(e.Value))
			if _, err := os.Stat(local); err == nil {
				return local
			}
		}
	}
	return r.kubeconfig
}

// version is the Istio version of an istiod pod: its IstioRevision's
// spec.version, found through the pod's istio.io/rev label, or else its
// image's tag.
func (r *istiodRole) version(ctx context.Context, pod *corev1.Pod) string {
	if rev := pod.Labels["istio.io/rev"]; rev != "" {
		obj, err := r.dynamic.Resource(istioRevisionResource).Get(ctx, rev, metav1.GetOptions{})
		if err == nil {
			if v, ok, _ := unstructuredString(obj.Object, "spec", "version"); ok && v != "" {
				return v
			}
		}
	}
	if len(pod.Spec.Containers) > 0 {
		// The tag of repo[:port]/name:tag[@digest]: a digest is not a version.
		image, _, _ := strings.Cut(pod.Spec.Containers[0].Image, "@")
		if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
			return "v" + strings.TrimPrefix(image[i+1:], "v")
		}
	}
	return ""
}

func unstructuredString(obj map[string]any, fields ...string) (string, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur, ok = m[f]
		if !ok {
			return "", false, nil
		}
	}
	s, ok := cur.(string)
	return s, ok, nil
}

// istiodBinaries maps catalog versions to their pilot-discovery.
type istiodBinaries map[string]string

// IstiodBinDir is the directory of the pilot-discovery builds:
// Options.IstiodBinDir, else $BOSUN_ISTIOD_BIN, else bin/istiod in the
// repository.
func IstiodBinDir(opts Options) (string, error) {
	if opts.IstiodBinDir != "" {
		return opts.IstiodBinDir, nil
	}
	if dir := os.Getenv(IstiodBinDirEnv); dir != "" {
		return dir, nil
	}
	root, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("locating pilot-discovery: %w (set %s or Options.IstiodBinDir)", err, IstiodBinDirEnv)
	}
	return filepath.Join(root, "bin", "istiod"), nil
}

// findIstiodBinaries lists <dir>/<version>/pilot-discovery. A missing
// directory means none were built.
func findIstiodBinaries(opts Options) (istiodBinaries, error) {
	dir, err := IstiodBinDir(opts)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return istiodBinaries{}, nil
	}
	if err != nil {
		return nil, err
	}
	bins := istiodBinaries{}
	for _, e := range entries {
		path := repo.PilotDiscovery(dir, e.Name())
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
			bins[e.Name()] = path
		}
	}
	return bins, nil
}

// versions lists the versions with a build, sorted.
func (b istiodBinaries) versions() []string {
	var vs []string
	for v := range b {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

// pick returns the pilot-discovery for an Istio version: the build of that
// version; else one of the same minor version; else one of the next minor
// version, because the end-to-end tests play patch versions of 1.24 with the
// 1.25 snapshot's charts (clustertest.PlayVersions), and those charts are
// what the pod runs. Any other version stays fake: an istiod run against
// charts of a distant version would test nothing real.
func (b istiodBinaries) pick(version string) (string, bool) {
	if path, ok := b[version]; ok {
		return path, true
	}
	major, minor, ok := minorOf(version)
	if !ok {
		return "", false
	}
	for _, want := range []int{minor, minor + 1} {
		for _, v := range b.versions() {
			if ma, mi, ok := minorOf(v); ok && ma == major && mi == want {
				return b[v], true
			}
		}
	}
	return "", false
}

// minorOf parses the major and minor numbers of vX.Y[.Z[-suffix]].
func minorOf(version string) (major, minor int, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}
