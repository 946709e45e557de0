//go:build e2e

package testcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// playedIstioVersion is the version the test's istiod image is tagged with.
// The player runs the pilot-discovery of the same minor version, which
// `make istiod-bins` builds from the catalog's 1.25 snapshot.
const playedIstioVersion = "1.25.0"

// TestIstiodPlayer checks the istiod player on a Deployment shaped like
// istiod's chart renders it: its pod is Ready only once pilot-discovery says
// so, the API server reaches the process at the pod's IP through the box's
// network, a mounted ConfigMap is materialised where istiod reads it,
// deleting the pod stops its process, a rollout replaces the process, an
// istiod that cannot start keeps its pod not Ready, and nothing is left after
// Stop.
func TestIstiodPlayer(t *testing.T) {
	requirePilotDiscovery(t)
	c := start(t, Options{Full: true, Nodes: 1})
	client, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	const ns = "istio-system"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const mesh = "rootNamespace: istio-system\ntrustDomain: box.local\n"
	if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio"},
		Data:       map[string]string{"mesh": mesh},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deployments := client.AppsV1().Deployments(ns)
	if _, err := deployments.Create(ctx, istiodDeployment("istiod", "discovery"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Ready comes from pilot-discovery's /ready, which answers only once
	// istiod has synced with the API server.
	waitUntil(t, "Deployment istiod to be available", func(ctx context.Context) error {
		d, err := deployments.Get(ctx, "istiod", metav1.GetOptions{})
		if err != nil {
			return err
		}
		return rolledOut(d)
	})
	pod := onlyPod(t, client, ns, "istiod")
	pid := playedPID(t, c, ns, pod.Name)

	// The API server reaches the pod's port 8080 at the pod's IP: its pod
	// proxy goes out through the egress selector, as webhook calls do.
	body, err := client.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods").
		Name(pod.Name + ":8080").SubResource("proxy").Suffix("ready").DoRaw(ctx)
	if err != nil {
		t.Fatalf("GET /ready of pod %s (%s) through the API server: %v: %s", pod.Name, pod.Status.PodIP, err, body)
	}

	// istiod reads ./etc/istio/config/mesh relative to its directory.
	materialised, err := os.ReadFile(filepath.Join(c.Dir(), "istiod", ns+"_"+pod.Name, "etc", "istio", "config", "mesh"))
	if err != nil || string(materialised) != mesh {
		t.Errorf("materialised mesh config = %q, %v; want %q", materialised, err, mesh)
	}

	// Deleting the pod stops its process; the ReplicaSet's new pod gets one.
	if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	waitUntil(t, "a new istiod pod to be played", func(ctx context.Context) error {
		for key := range c.PlayedProcesses() {
			if key != ns+"/"+pod.Name {
				return nil
			}
		}
		return fmt.Errorf("played: %v", c.PlayedProcesses())
	})
	pod = onlyPod(t, client, ns, "istiod")
	pid = playedPID(t, c, ns, pod.Name)

	// A rollout restart replaces the pod, and with it the process.
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339Nano))
	if _, err := deployments.Patch(ctx, "istiod", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	waitUntil(t, "the restart of istiod to complete", func(ctx context.Context) error {
		d, err := deployments.Get(ctx, "istiod", metav1.GetOptions{})
		if err != nil {
			return err
		}
		return rolledOut(d)
	})
	pod = onlyPod(t, client, ns, "istiod")
	playedPID(t, c, ns, pod.Name)

	// An istiod that cannot start (a flag it cannot parse) is restarted and never
	// Ready.
	if _, err := deployments.Create(ctx, istiodDeployment("broken", "discovery", "--keepaliveMaxServerConnectionAge=forever"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the broken istiod to exit", func(context.Context) error {
		if log := tailFile(filepath.Join(c.Dir(), boxLogName), 200); !strings.Contains(log, "/broken-") || !strings.Contains(log, "restarting in") {
			return errors.New("the player has not seen it exit yet")
		}
		return nil
	})
	broken := onlyPod(t, client, ns, "broken")
	if ready(broken) {
		t.Errorf("pod %s of an istiod that exited is Ready", broken.Name)
	}
	// As a kubelet restarts a container that exits, the player starts the process again.
	waitUntil(t, "the broken istiod to be started again", func(context.Context) error {
		started := 0
		for _, proc := range c.allProcesses() {
			if strings.HasSuffix(proc.name, ns+"/"+broken.Name) {
				started++
			}
		}
		if started < 2 {
			return fmt.Errorf("started %d times", started)
		}
		return nil
	})

	pids := c.PlayedProcesses()
	if len(pids) == 0 {
		t.Fatal("no played processes before Stop")
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
}

// requirePilotDiscovery fails the test unless `make istiod-bins` has built
// the pilot-discovery that plays playedIstioVersion.
func requirePilotDiscovery(t *testing.T) {
	t.Helper()
	bins, err := findIstiodBinaries(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := bins.pick("v" + playedIstioVersion); !ok {
		t.Fatalf("no pilot-discovery for Istio %s (have %v): run `make istiod-bins`", playedIstioVersion, bins.versions())
	}
}

// istiodDeployment is a Deployment like the one istiod's chart renders,
// reduced to what the player reads.
func istiodDeployment(name string, args ...string) *appsv1.Deployment {
	labels := map[string]string{"app": "istiod", "istio": name, "istio.io/rev": name}
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	var ports []corev1.ContainerPort
	for _, p := range []int32{8080, 15010, 15012, 15014, 15017} {
		ports = append(ports, corev1.ContainerPort{ContainerPort: p, Protocol: corev1.ProtocolTCP})
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"istio": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  "discovery",
						Image: "docker.io/istio/pilot:" + playedIstioVersion,
						Args:  append(args, "--monitoringAddr=:15014", "--domain", "cluster.local"),
						Env: []corev1.EnvVar{
							{Name: "REVISION", Value: name},
							{Name: "PILOT_CERT_PROVIDER", Value: "istiod"},
							{Name: "POD_NAME", ValueFrom: field("metadata.name")},
							{Name: "POD_NAMESPACE", ValueFrom: field("metadata.namespace")},
							{Name: "SERVICE_ACCOUNT", ValueFrom: field("spec.serviceAccountName")},
							{Name: "KUBECONFIG", Value: "/var/run/secrets/remote/config"},
						},
						Ports: ports,
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)},
						}},
						VolumeMounts: []corev1.VolumeMount{{Name: "config-volume", MountPath: "/etc/istio/config"}},
					}},
					Volumes: []corev1.Volume{{Name: "config-volume", VolumeSource: corev1.VolumeSource{
						ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "istio"}},
					}}},
				},
			},
		},
	}
}

// onlyPod returns the one live pod of Deployment name, waiting until there is
// exactly one.
func onlyPod(t *testing.T, client kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	waitUntil(t, "one pod of "+name, func(ctx context.Context) error {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "istio=" + name})
		if err != nil {
			return err
		}
		var live []corev1.Pod
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil {
				live = append(live, p)
			}
		}
		if len(live) != 1 || len(list.Items) != 1 {
			return fmt.Errorf("%d pods, %d live", len(list.Items), len(live))
		}
		pod = &live[0]
		return nil
	})
	return pod
}

// playedPID waits for the pod's process and returns its id.
func playedPID(t *testing.T, c *Cluster, ns, name string) int {
	t.Helper()
	var pid int
	waitUntil(t, "pod "+name+" to be played", func(context.Context) error {
		var ok bool
		if pid, ok = c.PlayedProcesses()[ns+"/"+name]; !ok {
			return fmt.Errorf("played: %v", c.PlayedProcesses())
		}
		return nil
	})
	return pid
}

// waitGone waits until no process has the id pid.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("process %d to be gone", pid), func(context.Context) error {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill(%d, 0) = %v", pid, err)
		}
		return nil
	})
}

func TestIstiodBinariesPick(t *testing.T) {
	bins := istiodBinaries{
		"v1.25.0-snapshot.be4b14ad": "/bin/125",
		"v1.31.0-snapshot.eed52ebb": "/bin/131",
	}
	tests := []struct {
		version, want string
	}{
		{version: "v1.25.0-snapshot.be4b14ad", want: "/bin/125"},
		{version: "v1.25.3", want: "/bin/125"},
		// Played by the 1.25 snapshot's charts in the end-to-end tests.
		{version: "v1.24.4", want: "/bin/125"},
		{version: "v1.31.1", want: "/bin/131"},
		{version: "v1.30.0", want: "/bin/131"},
		// Too far from any build: stays fake.
		{version: "v1.27.0-snapshot.b9159ca3", want: ""},
		{version: "v1.23.0", want: ""},
		{version: "vlatest", want: ""},
		{version: "", want: ""},
	}
	for _, tt := range tests {
		got, ok := bins.pick(tt.version)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("pick(%q) = %q, %v; want %q", tt.version, got, ok, tt.want)
		}
	}
}

// TestPlayedStages checks that kwok's pod-ready stage, as `make cluster-bins` copies it, is told to
// leave istiod's and bosun's pods and pods marked NeverReadyAnnotation alone, and that a played-pod
// stage is added for each.
func TestPlayedStages(t *testing.T) {
	bin, err := binDir(Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := writePlayedStages(filepath.Join(bin, kwokStagesDir), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stages[filepath.Base(f)] = string(data)
	}
	for _, l := range []struct{ query, value, stage string }{
		{`.metadata.labels["app"]`, "istiod", "pod-played-istiod.yaml"},
		{`.metadata.labels["app.kubernetes.io/name"]`, "bosun", "pod-played-bosun.yaml"},
		{`.metadata.annotations["` + NeverReadyAnnotation + `"]`, `"true"`, "pod-never-ready.yaml"},
	} {
		if want := "key: " + l.query + "\n      operator: NotIn\n      values:\n      - " + l.value; !strings.Contains(stages[podReadyStage], want) {
			t.Errorf("kwok's pod-ready stage does not exclude %s pods (no %q):\n%s", l.query, want, stages[podReadyStage])
		}
		played := stages[l.stage]
		if want := "'" + l.query + "'\n      operator: 'In'\n      values:\n      - '" + strings.Trim(l.value, `"`) + "'"; !strings.Contains(played, want) {
			t.Errorf("no stage %s selecting %s pods (no %q):\n%s", l.stage, l.query, want, played)
		}
	}
}
