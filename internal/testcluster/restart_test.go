//go:build e2e

package testcluster

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// TestRestartAPIServer restarts kube-apiserver: a new process serves on the same address with the same
// certificates (a client made before the restart works after it, with its configuration unchanged),
// what was stored before is still there (same etcd), and a watch open across the restart ends, as
// clients must expect.
func TestRestartAPIServer(t *testing.T) {
	c := start(t, Options{})
	client, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cm, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "before-restart"}, Data: map[string]string{"k": "v"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: cm.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	before := apiServerPID(c)

	if err := c.RestartAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}

	if after := apiServerPID(c); after == before || after == 0 {
		t.Errorf("kube-apiserver pid %d after the restart, %d before: want a new process", after, before)
	}
	got, err := client.CoreV1().ConfigMaps("default").Get(ctx, "before-restart", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the ConfigMap stored before the restart, through the client made before it: %v", err)
	}
	if got.UID != cm.UID || got.Data["k"] != "v" {
		t.Errorf("the ConfigMap after the restart is %s %v, want %s %v", got.UID, got.Data, cm.UID, cm.Data)
	}
	for ev := range w.ResultChan() {
		if ev.Type != watch.Error {
			t.Errorf("the watch opened before the restart delivered %s %T", ev.Type, ev.Object)
		}
	}
	// The watch's channel closed: the restart ended it.
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-restart"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("writing after the restart: %v", err)
	}
}

// apiServerPID is the process id of the running kube-apiserver.
func apiServerPID(c *Cluster) int {
	c.procMu.Lock()
	defer c.procMu.Unlock()
	for _, p := range c.processes {
		if p.name == apiServerBin {
			return p.pid()
		}
	}
	return 0
}
