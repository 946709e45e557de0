//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/apply"
	"github.com/bosun-mesh/bosun/internal/operator"
	"github.com/bosun-mesh/bosun/internal/render"
)

// Environment variables of the kill test. make chaos sets BOSUN_CHAOS_KILLS=50; a failure is replayed
// by setting BOSUN_CHAOS_SEED to the seed the failed run printed.
const (
	envKills = "BOSUN_CHAOS_KILLS"
	envSeed  = "BOSUN_CHAOS_SEED"
	// defaultKills is what make test runs: enough moments to cover both strategies and both phases.
	defaultKills = 10
	// maxKillDelay bounds the random moment of a kill after a change starts. A version change's
	// reconcile (render, apply, the new istiod's rollout, status writes, pruning) ends within it, so
	// kills land in every part of it, and some after it, on a converging mesh.
	maxKillDelay = 4 * time.Second
	// faultGrace is the RevisionBased Istio's inactiveRevisionDeletionGracePeriodSeconds: short, so
	// each relabel's pruning happens within the test, yet long enough to be killed in.
	faultGrace = 2
	// faultsPrefix starts the names of the kill test's Istios.
	faultsPrefix = "faults-"
)

// TestOperatorSurvivesSIGKILL kills the operator (SIGKILL to the process that plays its pod, as the
// OOM killer does, docs/architecture.md#lesson-killed-at-any-moment) at seeded random moments of InPlace and RevisionBased version
// changes (v1.24.3 ↔ v1.24.4) and of the relabelling that retires a RevisionBased revision; the box
// restarts it a second later, as a kubelet does. After every kill the mesh converges — the Istio Healthy on
// the right active revision, exactly the revisions it should have — and all along nothing is orphaned
// (no object bosun applied outlives its owner, no IstioRevision its Istio, docs/architecture.md#lesson-restored-revisions), no
// revision that a namespace with injected pods uses is deleted (docs/architecture.md#lesson-unknown-is-in-use) and no revision appears twice.
//
// The operator runs with --leader-elect=false: a restarted process would otherwise wait for the killed
// one's Lease to expire (a minute by default) before reconciling, which is what
// TestOnlyTheLeaderWrites measures; here the point is what a restart in the middle of a reconcile
// leaves behind, and one replica without election is how that reconciles soonest.
//
// BOSUN_CHAOS_KILLS sets the number of kills (make chaos: 50); the seed is printed and BOSUN_CHAOS_SEED
// replays it. A tally (kills by phase and moment, convergence time) is logged at the end.
func TestOperatorSurvivesSIGKILL(t *testing.T) {
	kills := envInt(t, envKills, defaultKills)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envSeed, s, err)
		}
		seed = v
	}
	t.Logf("kill moments seeded with %d (replay with %s=%d)", seed, envSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	c := newClient(t)
	installBosun(t, c, "--leader-elect=false")
	inplace := &faultMesh{name: "faults-inplace", namespace: "istio-faults-ip", app: "faults-app-ip", version: v1243}
	revbased := &faultMesh{name: "faults-rb", namespace: "istio-faults-rb", app: "faults-app-rb", version: v1243, revisionBased: true}
	for _, m := range []*faultMesh{inplace, revbased} {
		m.install(t, c)
	}
	guard := guardRevisions(t, c, inplace, revbased)
	inplace.guard, revbased.guard = guard, guard

	tally := &killTally{seed: seed}
	t.Cleanup(func() { t.Log(tally.String()) })
	for i := range kills {
		m := inplace
		if i%2 == 1 {
			m = revbased
		}
		// A RevisionBased mesh's kills alternate between its two phases.
		phase := phaseVersionChange
		if m.revisionBased && i%4 == 3 {
			phase = phaseRelabel
		}
		delay := time.Duration(rng.Int64N(int64(maxKillDelay)))
		k := kill{n: i + 1, mesh: m.name, phase: phase, delay: delay}
		if err := m.changeVersionKilling(t, c, k, tally); err != nil {
			if v := guard.violations(); len(v) > 0 {
				err = fmt.Errorf("%w; and %s", err, strings.Join(v, "; "))
			}
			tally.failures = append(tally.failures, fmt.Sprintf("kill %d (%s, %s at %s): %v", k.n, k.mesh, k.phase, k.delay.Round(time.Millisecond), err))
			t.Fatalf("kill %d of %d (%s, %s, %s after it started; seed %d): %v", k.n, kills, k.mesh, k.phase, k.delay.Round(time.Millisecond), seed, err)
		}
		t.Logf("kill %d/%d: %s, %s, %s after it started; converged %s after the kill", k.n, kills, k.mesh, k.phase,
			k.delay.Round(time.Millisecond), tally.converge[len(tally.converge)-1].Round(100*time.Millisecond))
		if v := guard.violations(); len(v) > 0 {
			tally.failures = append(tally.failures, v...)
			t.Fatalf("after kill %d (%s, %s, %s after it started; seed %d): %s", k.n, k.mesh, k.phase, k.delay.Round(time.Millisecond), seed, strings.Join(v, "; "))
		}
	}
}

// envInt reads a positive number from the environment, else returns def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// The phases of a change in which a kill lands.
const (
	// phaseVersionChange: the Istio's spec.version was just changed.
	phaseVersionChange = "version change"
	// phaseRelabel: a RevisionBased mesh's namespace was just relabelled to the new revision and its
	// pods replaced, so the old revision turns unused and is pruned after the grace period.
	phaseRelabel = "relabel"
)

// kill is one planned kill.
type kill struct {
	n     int
	mesh  string
	phase string
	delay time.Duration
}

// faultMesh is one control plane of the kill test, with a namespace of injected pods that uses it.
type faultMesh struct {
	name, namespace, app string
	revisionBased        bool
	version              string
	// inUse is the revision the app namespace is labelled with, and pods the names of its pods.
	inUse string
	pods  []string
	// generation counts pod generations, to name new pods.
	generation int
	// guard, once set, watches the test's revisions; a violation it found ends a wait at once.
	guard *revisionGuard
}

// revision is the name of the revision that runs version.
func (m *faultMesh) revision(version string) string {
	if !m.revisionBased {
		return m.name
	}
	return m.name + "-" + strings.ReplaceAll(version, ".", "-")
}

// otherVersion is the version the next change moves to.
func (m *faultMesh) otherVersion() string {
	if m.version == v1243 {
		return v1244
	}
	return v1243
}

// install creates the Istio and a namespace of injected pods that uses its revision.
func (m *faultMesh) install(t *testing.T, c client.Client) {
	t.Helper()
	ensureNamespace(t, c, m.namespace)
	strategy := "InPlace"
	if m.revisionBased {
		strategy = "RevisionBased"
	}
	applyYAML(t, c, fmt.Sprintf(`apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: %s
spec:
  namespace: %s
  version: %s
  updateStrategy:
    type: %s
    inactiveRevisionDeletionGracePeriodSeconds: %d`, m.name, m.namespace, m.version, strategy, faultGrace))
	t.Cleanup(func() { deleteIstio(t, c, m.name) })
	istioHealthy(t, c, m.name)
	m.inUse = m.revision(m.version)
	appNamespace(t, c, m.app, map[string]string{"istio.io/rev": m.inUse})
	m.replacePods(t, c)
	t.Cleanup(func() { deletePods(t, c, m.app, m.pods) })
}

// replacePods deletes the app namespace's pods and creates new ones, injected by the revision the
// namespace is labelled with, as `kubectl rollout restart` does.
func (m *faultMesh) replacePods(t *testing.T, c client.Client) {
	t.Helper()
	deletePods(t, c, m.app, m.pods)
	m.generation++
	m.pods = workloadPods(t, c, m.app, fmt.Sprintf("app-g%d", m.generation), m.inUse, 2)
}

// changeVersionKilling moves the mesh to its other version and, for a RevisionBased mesh, relabels
// its namespace to the new revision; in k's phase it kills the operator k.delay after the phase
// starts, waits for the box to restart it, and records how long the mesh took to converge.
func (m *faultMesh) changeVersionKilling(t *testing.T, c client.Client, k kill, tally *killTally) error {
	t.Helper()
	to := m.otherVersion()
	started := time.Now()
	var killed *plannedKill
	if k.phase == phaseVersionChange {
		killed = planKill(t, c, k.delay)
	}
	mergePatch(t, c, &v1.Istio{ObjectMeta: metav1.ObjectMeta{Name: m.name}}, fmt.Sprintf(`{"spec":{"version":%q}}`, to))
	old := m.version
	m.version = to
	if err := m.converge(t, c, killed, k, tally, started); err != nil {
		return err
	}
	if !m.revisionBased {
		return nil
	}
	// The old revision is in use until the namespace moves to the new one.
	started = time.Now()
	killed = nil
	if k.phase == phaseRelabel {
		killed = planKill(t, c, k.delay)
	}
	m.inUse = m.revision(to)
	labelNamespace(t, c, m.app, "istio.io/rev", m.inUse)
	m.replacePods(t, c)
	if err := m.converge(t, c, killed, k, tally, started); err != nil {
		return err
	}
	if err := c.Get(t.Context(), client.ObjectKey{Name: m.revision(old)}, &v1.IstioRevision{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("the unused revision %s is still there: %v", m.revision(old), err)
	}
	return nil
}

// converge waits for the kill planned in this phase, if any, and the box's restart of the operator,
// then for the mesh to converge; it records the kill in the tally.
func (m *faultMesh) converge(t *testing.T, c client.Client, killed *plannedKill, k kill, tally *killTally, started time.Time) error {
	t.Helper()
	from := started
	if killed != nil {
		if err := killed.wait(t, c); err != nil {
			return err
		}
		from = killed.at
	}
	if err := within(convergeTimeout, func(ctx context.Context) error {
		if v := m.guard.violations(); len(v) > 0 {
			return fmt.Errorf("%w: %s", errFinal, strings.Join(v, "; "))
		}
		return m.converged(ctx, c)
	}); err != nil {
		return fmt.Errorf("the mesh did not converge: %w", err)
	}
	if killed != nil {
		tally.add(k, time.Since(from))
	}
	return nil
}

// convergeTimeout bounds the convergence after a kill: the box's restart delay, the operator's
// start and cache sync, istiod's rollout and the grace period, with a loaded machine's margin.
const convergeTimeout = 90 * time.Second

// converged returns nil once the mesh is where the test left it: the Istio has observed its spec and
// is Healthy on the revision of its version, it owns exactly that revision and the one its namespace
// uses, each on the right version, and nothing bosun applied is orphaned.
func (m *faultMesh) converged(ctx context.Context, c client.Client) error {
	istio := &v1.Istio{}
	if err := c.Get(ctx, client.ObjectKey{Name: m.name}, istio); err != nil {
		return err
	}
	active := m.revision(m.version)
	if istio.Status.ObservedGeneration != istio.Generation || istio.Status.State != v1.StateHealthy || istio.Status.ActiveRevisionName != active {
		return fmt.Errorf("Istio %s: generation %d, observed %d, state %q, active revision %q (want Healthy on %s)",
			m.name, istio.Generation, istio.Status.ObservedGeneration, istio.Status.State, istio.Status.ActiveRevisionName, active)
	}
	var revs v1.IstioRevisionList
	if err := c.List(ctx, &revs); err != nil {
		return err
	}
	want := map[string]bool{active: true, m.inUse: true}
	var have []string
	for _, rev := range revs.Items {
		if !hasOwner(&rev, istio) {
			continue
		}
		have = append(have, rev.Name)
		if !want[rev.Name] {
			continue
		}
		wantVersion := m.version
		if rev.Name != active {
			wantVersion = m.otherVersion()
		}
		if string(rev.Spec.Version) != wantVersion {
			return fmt.Errorf("revision %s runs %s, want %s", rev.Name, rev.Spec.Version, wantVersion)
		}
	}
	slices.Sort(have)
	if wantNames := slices.Sorted(func(yield func(string) bool) {
		for name := range want {
			if !yield(name) {
				return
			}
		}
	}); !slices.Equal(have, wantNames) {
		return fmt.Errorf("Istio %s owns revisions %v, want %v", m.name, have, wantNames)
	}
	if orphans, err := orphaned(ctx, c, faultsPrefix); err != nil || len(orphans) > 0 {
		return fmt.Errorf("orphaned: %v %v", orphans, err)
	}
	return nil
}

// hasOwner reports whether obj has an owner reference to owner, by UID.
func hasOwner(obj, owner client.Object) bool {
	return slices.ContainsFunc(obj.GetOwnerReferences(), func(r metav1.OwnerReference) bool { return r.UID == owner.GetUID() })
}

// plannedKill is a SIGKILL of the operator's process, sent by a timer.
type plannedKill struct {
	pod  string
	pid  int
	at   time.Time
	err  error
	done chan struct{}
}

// planKill sends SIGKILL to the process that plays the operator's pod after delay. The delay is the
// seeded moment of the fault, the one thing here that waits for time to pass.
func planKill(t *testing.T, c client.Client, delay time.Duration) *plannedKill {
	t.Helper()
	pod, pid := operatorProcess(t, c)
	if pid == 0 {
		t.Fatalf("no process plays the operator's pod %s", pod)
	}
	k := &plannedKill{pod: pod, pid: pid, done: make(chan struct{})}
	time.AfterFunc(delay, func() {
		defer close(k.done)
		k.at = time.Now()
		k.err = syscall.Kill(pid, syscall.SIGKILL)
	})
	return k
}

// wait waits for the kill, then for the box to start a new process for the operator's pod.
func (k *plannedKill) wait(t *testing.T, c client.Client) error {
	t.Helper()
	<-k.done
	if k.err != nil {
		return fmt.Errorf("killing the operator (pid %d): %w", k.pid, k.err)
	}
	return within(convergeTimeout, func(ctx context.Context) error {
		pods, err := operatorPods(ctx, c)
		if err != nil {
			return err
		}
		if len(pods) != 1 || pods[0].Name != k.pod {
			return fmt.Errorf("operator pods %v, want %s kept (a kill restarts the process, not the pod)", podNames(pods), k.pod)
		}
		pid := box.PlayedProcesses()[operatorNamespace+"/"+k.pod]
		if pid == 0 || pid == k.pid {
			return fmt.Errorf("pod %s is played by pid %d, killed %d", k.pod, pid, k.pid)
		}
		return nil
	})
}

// errFinal marks an error of a condition that no amount of waiting can turn into success (something
// was deleted that must not be, a counter that only grows has grown): within returns it at once.
var errFinal = errors.New("final")

// within polls cond every 200 ms until it returns nil, and returns its last error after timeout, or at
// once an error that wraps errFinal. Unlike waitFor it does not fail the test, so that the kill test
// can tally a failure first.
func within(timeout time.Duration, cond func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, errFinal) {
			return err
		}
		// An attempt cut short by the deadline says nothing about why the wait failed.
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// orphaned lists, among what belongs to the bosun resources whose names start with prefix, what bosun
// applied (every managed kind, labelled managed-by=bosun) that has no owner reference to a bosun
// resource (the garbage collector would never remove it) or whose owner is gone or is another object
// of the same name (another UID), and the IstioRevisions whose Istio is. The garbage collector removes
// the dependents of a deleted owner within seconds, so a caller waits for this to be empty. The prefix
// keeps other tests' leftovers out of the kill test's verdict.
func orphaned(ctx context.Context, c client.Client, prefix string) ([]string, error) {
	var out []string
	owners := map[types.UID]bool{}
	ownerExists := func(ref metav1.OwnerReference) (bool, error) {
		if v, ok := owners[ref.UID]; ok {
			return v, nil
		}
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return false, err
		}
		owner := &unstructured.Unstructured{}
		owner.SetGroupVersionKind(gv.WithKind(ref.Kind))
		err = c.Get(ctx, client.ObjectKey{Name: ref.Name}, owner)
		if err != nil && !apierrors.IsNotFound(err) {
			return false, err
		}
		owners[ref.UID] = err == nil && owner.GetUID() == ref.UID && owner.GetDeletionTimestamp() == nil
		return owners[ref.UID], nil
	}
	check := func(what string, obj client.Object) error {
		if !slices.ContainsFunc(obj.GetOwnerReferences(), func(r metav1.OwnerReference) bool {
			return strings.HasPrefix(r.APIVersion, v1.GroupVersion.Group+"/")
		}) {
			out = append(out, fmt.Sprintf("%s %s/%s has no bosun owner", what, obj.GetNamespace(), obj.GetName()))
		}
		for _, ref := range obj.GetOwnerReferences() {
			if !strings.HasPrefix(ref.APIVersion, v1.GroupVersion.Group+"/") {
				continue
			}
			ok, err := ownerExists(ref)
			if err != nil {
				return err
			}
			if !ok && obj.GetDeletionTimestamp() == nil {
				out = append(out, fmt.Sprintf("%s %s/%s (owner %s %s gone)", what, obj.GetNamespace(), obj.GetName(), ref.Kind, ref.Name))
			}
		}
		return nil
	}
	var revs v1.IstioRevisionList
	if err := c.List(ctx, &revs); err != nil {
		return nil, err
	}
	for i := range revs.Items {
		rev := &revs.Items[i]
		if !strings.HasPrefix(rev.Name, prefix) {
			continue
		}
		if err := check("IstioRevision", rev); err != nil {
			return nil, err
		}
	}
	for _, gvk := range apply.Kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		err := c.List(ctx, list, client.MatchingLabels{"app.kubernetes.io/managed-by": "bosun"})
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			if !apply.AppliedByBosun(&list.Items[i]) {
				continue // the EndpointSlices Kubernetes makes for a Service of bosun's carry its labels
			}
			_, name, _ := strings.Cut(list.Items[i].GetLabels()[render.LabelOwner], ".")
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			if err := check(gvk.Kind, &list.Items[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// revisionGuard watches IstioRevisions for the whole kill test and records each violation of what a
// kill must never cause: the deletion of a revision that a namespace with injected pods uses, and two
// revisions of one Istio on one version.
type revisionGuard struct {
	mu    sync.Mutex
	found []string
}

func (g *revisionGuard) violations() []string {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.found)
}

func (g *revisionGuard) record(format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.found = append(g.found, fmt.Sprintf(format, args...))
}

// guardRevisions starts a revisionGuard for the meshes' revisions until the test ends.
func guardRevisions(t *testing.T, c client.Client, meshes ...*faultMesh) *revisionGuard {
	t.Helper()
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	g := &revisionGuard{}
	ctx, cancel := context.WithCancel(context.Background())
	var apps []string
	for _, m := range meshes {
		apps = append(apps, m.app)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		live := map[string]*v1.IstioRevision{}
		for ctx.Err() == nil {
			w, err := wc.Watch(ctx, &v1.IstioRevisionList{})
			if err != nil {
				continue
			}
			for ev := range w.ResultChan() {
				rev, ok := ev.Object.(*v1.IstioRevision)
				if !ok {
					continue
				}
				if ev.Type == watch.Deleted || rev.DeletionTimestamp != nil {
					if _, seen := live[rev.Name]; seen {
						g.checkDeletion(ctx, c, rev.Name, apps)
					}
					delete(live, rev.Name)
					continue
				}
				if prev := live[rev.Name]; prev != nil && prev.UID != rev.UID {
					g.checkDeletion(ctx, c, rev.Name, apps)
				}
				live[rev.Name] = rev
				g.checkDuplicates(live)
			}
			w.Stop()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return g
}

// checkDeletion records a violation if revision name, just deleted (or replaced), is used by a
// namespace labelled with it that has pods injected by it.
func (g *revisionGuard) checkDeletion(ctx context.Context, c client.Client, name string, apps []string) {
	for _, app := range apps {
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: app}, ns); err != nil {
			continue
		}
		if ns.Labels["istio.io/rev"] != name {
			continue
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(app)); err != nil {
			g.record("revision %s deleted; listing the pods of %s: %v", name, app, err)
			continue
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && p.Annotations["istio.io/rev"] == name {
				g.record("revision %s was deleted while namespace %s is labelled with it and its pod %s was injected by it", name, app, p.Name)
				break
			}
		}
	}
}

// checkDuplicates records a violation if one Istio owns two live revisions on one version.
func (g *revisionGuard) checkDuplicates(live map[string]*v1.IstioRevision) {
	seen := map[string]string{}
	for _, rev := range live {
		for _, ref := range rev.OwnerReferences {
			key := string(ref.UID) + "/" + string(rev.Spec.Version)
			if other, dup := seen[key]; dup {
				g.record("Istio %s owns two revisions on %s: %s and %s", ref.Name, rev.Spec.Version, other, rev.Name)
			}
			seen[key] = rev.Name
		}
	}
}

// killTally counts the kills of TestOperatorSurvivesSIGKILL and how long the mesh took to converge
// after each, for make chaos and docs/performance.md.
type killTally struct {
	seed     uint64
	kills    []kill
	converge []time.Duration
	failures []string
}

func (t *killTally) add(k kill, converged time.Duration) {
	t.kills = append(t.kills, k)
	t.converge = append(t.converge, converged)
}

// String is the tally as make chaos prints it.
func (t *killTally) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chaos tally (seed %d): %d kills, %d failures\n", t.seed, len(t.kills), len(t.failures))
	byPhase := map[string]int{}
	buckets := make([]int, 4)
	for _, k := range t.kills {
		byPhase[k.mesh+", "+k.phase]++
		buckets[min(int(k.delay/time.Second), len(buckets)-1)]++
	}
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range byPhase {
			if !yield(p) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "  kills in %s: %d\n", p, byPhase[p])
	}
	fmt.Fprintf(&b, "  moments after the change started: 0–1 s %d, 1–2 s %d, 2–3 s %d, 3–4 s %d\n", buckets[0], buckets[1], buckets[2], buckets[3])
	if len(t.converge) > 0 {
		lo, hi, sum := t.converge[0], t.converge[0], time.Duration(0)
		for _, d := range t.converge {
			lo, hi, sum = min(lo, d), max(hi, d), sum+d
		}
		fmt.Fprintf(&b, "  converged after the kill in: min %s, avg %s, max %s\n",
			lo.Round(100*time.Millisecond), (sum / time.Duration(len(t.converge))).Round(100*time.Millisecond), hi.Round(100*time.Millisecond))
	}
	for _, f := range t.failures {
		fmt.Fprintf(&b, "  failure: %s\n", f)
	}
	return b.String()
}
