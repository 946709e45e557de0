//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/meshview"
)

// TestStatus runs bosun status against a real API server holding a RevisionBased update half done
// (statuses written as the operator would): the JSON view counts what IN USE counts, lists the
// workload left on the old revision and the command that moves it, shows the finished pod apart, and
// the command exits 0; once the new revision is not Ready it exits 2, and the text says why.
func TestStatus(t *testing.T) {
	ctx := t.Context()
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	readyNow := func(status metav1.ConditionStatus, reason string) []metav1.Condition {
		return []metav1.Condition{{Type: v1.ConditionReady, Status: status, Reason: reason, Message: reason, LastTransitionTime: metav1.Now()}}
	}
	const oldRev, newRev = "st-v1-27-2", "st-v1-27-3"
	istio := &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: "st"}, Spec: v1.IstioSpec{Version: "v1.27.0-snapshot.b9159ca3", Namespace: "istio-system",
		UpdateStrategy: &v1.IstioUpdateStrategy{Type: v1.UpdateStrategyRevisionBased}}}
	must(c.Create(ctx, istio))
	t.Cleanup(func() { _ = c.Delete(context.Background(), istio) })
	istio.Status.ActiveRevisionName = newRev
	istio.Status.Conditions = readyNow(metav1.ConditionTrue, v1.ReasonReady)
	must(c.Status().Update(ctx, istio))
	yes := true
	revs := map[string]*v1.IstioRevision{}
	for _, name := range []string{oldRev, newRev} {
		name := name
		rev := &v1.IstioRevision{ObjectMeta: metav1.ObjectMeta{Name: name,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1.GroupVersion.String(), Kind: v1.KindIstio, Name: istio.Name, UID: istio.UID, Controller: &yes}}},
			Spec: v1.IstioRevisionSpec{Version: "v1.27.0-snapshot.b9159ca3", Namespace: "istio-system",
				Values: &v1.Values{Revision: &name, Global: &v1.GlobalConfig{IstioNamespace: ptrTo("istio-system")}}}}
		must(c.Create(ctx, rev))
		t.Cleanup(func() { _ = c.Delete(context.Background(), rev) })
		rev.Status.Conditions = readyNow(metav1.ConditionTrue, v1.ReasonReady)
		must(c.Status().Update(ctx, rev))
		revs[name] = rev
	}
	for name, labels := range map[string]map[string]string{"st-bookinfo": {"istio.io/rev": newRev}, "st-shop": {"istio.io/rev": oldRev}} {
		must(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}))
	}
	pod := func(ns, name, rev, owner string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Labels:      map[string]string{"security.istio.io/tlsMode": "istio", "pod-template-hash": "abc"},
			Annotations: map[string]string{"istio.io/rev": rev, "bosun.dev/proxy-version": "v1.27.0-snapshot.b9159ca3"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
		if owner != "" {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: owner + "-abc", UID: types.UID("rs-" + owner), Controller: &yes}}
		}
		must(c.Create(ctx, p))
		return p
	}
	pod("st-bookinfo", "productpage-abc-1", newRev, "productpage")
	pod("st-bookinfo", "reviews-abc-1", oldRev, "reviews")
	pod("st-shop", "cart-abc-1", oldRev, "cart")
	done := pod("st-bookinfo", "migrate-1", oldRev, "")
	done.Status.Phase = corev1.PodSucceeded
	must(c.Status().Update(ctx, done))
	// A pod istiod deployed for the Gateway ingress: no injection, and none of the injector's labels.
	must(c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "st-bookinfo", Name: "ingress-istio-abc-1",
		Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "ingress", "gateway.istio.io/managed": "istio.io-gateway-controller",
			"sidecar.istio.io/inject": "false"},
		Annotations: map[string]string{"istio.io/rev": newRev}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "proxyv2"}}}}))

	stdout, stderr, code := runBosun(t, "", "status", "--kubeconfig", kubeconfig, "-o", "json")
	if code != 0 {
		t.Fatalf("bosun status: exit %d, %s", code, stderr)
	}
	var st meshview.Status
	must(json.Unmarshal([]byte(stdout), &st))
	if len(st.Istios) != 1 || st.Istios[0].Migration.OnActive != 2 || st.Istios[0].Migration.Workloads != 4 ||
		strings.Join(st.Istios[0].Migration.LeftOn[oldRev], ",") != "st-bookinfo/reviews,st-shop/cart" {
		t.Errorf("istios %+v", st.Istios)
	}
	pods := map[string]int{}
	workloads := map[string][]string{}
	for _, r := range st.Revisions {
		pods[r.Name] = r.Pods
		for _, w := range r.Workloads {
			workloads[r.Name] = append(workloads[r.Name], w.Kind+" "+w.Namespace+"/"+w.Name)
		}
	}
	// IN USE: the old revision has cart and reviews, which it injected; the new one productpage and the
	// gateway it rendered. A pod follows its namespace only by its labels, and these pods' labels
	// reference nothing. The finished pod counts for neither.
	if pods[oldRev] != 2 || pods[newRev] != 2 {
		t.Errorf("pods by revision %v, want 2 and 2", pods)
	}
	if got := strings.Join(workloads[newRev], ", "); got != "Deployment st-bookinfo/productpage, Gateway st-bookinfo/ingress" {
		t.Errorf("workloads on %s: %s", newRev, got)
	}
	if len(st.Restarts) != 1 || st.Restarts[0].Name != "reviews" || st.Restarts[0].Command != "kubectl rollout restart deployment/reviews -n st-bookinfo" {
		t.Errorf("restarts %+v", st.Restarts)
	}
	if len(st.Finished) != 1 || st.Finished[0].Name != "migrate-1" {
		t.Errorf("finished %+v", st.Finished)
	}

	revs[newRev].Status.Conditions = readyNow(metav1.ConditionFalse, v1.ReasonIstiodNotReady)
	must(c.Status().Update(ctx, revs[newRev]))
	stdout, _, code = runBosun(t, "", "status", "--kubeconfig", kubeconfig, "-n", "st-bookinfo")
	if code != exitCodeNotReady || !strings.Contains(stdout, "NotReady(IstiodNotReady)") || !strings.Contains(stdout, "kubectl rollout restart deployment/reviews -n st-bookinfo") {
		t.Errorf("with the new revision not ready: exit %d\n%s", code, stdout)
	}
	if strings.Contains(stdout, "st-shop") {
		t.Errorf("-n st-bookinfo shows st-shop:\n%s", stdout)
	}
	t.Logf("bosun status -n st-bookinfo:\n%s", stdout)

	// --watch draws the view, and again when it changes: here once the new revision is Ready again.
	watchCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	watch := exec.CommandContext(watchCtx, os.Args[0], "status", "--kubeconfig", kubeconfig, "--watch", "--interval", "200ms", "-n", "st-bookinfo")
	watch.Env = append(os.Environ(), runMainEnv+"=1")
	var out syncBuffer
	watch.Stdout, watch.Stderr = &out, &out
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = watch.Wait() }()
	waitOutput := func(what string, done func(string) bool) {
		t.Helper()
		for !done(out.String()) {
			select {
			case <-watchCtx.Done():
				t.Fatalf("bosun status --watch: no %s within a minute:\n%s", what, out.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitOutput("first view", func(s string) bool { return strings.Contains(s, "NotReady(IstiodNotReady)") })
	revs[newRev].Status.Conditions = readyNow(metav1.ConditionTrue, v1.ReasonReady)
	must(c.Status().Update(ctx, revs[newRev]))
	waitOutput("second view once the revision is Ready", func(s string) bool {
		i := strings.Index(s, "\n--- ")
		return i > 0 && !strings.Contains(s[i:], "NotReady(") && strings.Contains(s[i:], "st-v1-27-3 (active)")
	})
}

// syncBuffer is an output written by a process while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func ptrTo[T any](v T) *T { return &v }
