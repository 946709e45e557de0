//go:build integration

package operator

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/yaml"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/repo"
	"github.com/bosun-mesh/bosun/internal/values"
)

// TestStoppedLeaderHandsOverAtOnce runs two replicas of the operator with the operator's own
// permissions (chart/files/role.yaml), which let the waiting replica watch the Lease: the leader with
// the default lease timings (a 60 s lease, renewed every 20 s), the other retrying only every ten
// minutes. Stopped as SIGTERM stops it, the leader releases its Lease once its controllers have
// stopped, and the other replica leads within 2 s of the stop, where client-go's lock alone would have
// it wait for its next try. The Lease says when the new leader took it.
func TestStoppedLeaderHandsOverAtOnce(t *testing.T) {
	ns := leaseNamespace(t)
	a := startReplica(t, ns, DefaultLease, nil)
	a.waitElected(t, time.Minute)
	leader := holder(t, ns)
	// b tries again only every ten minutes, so a takeover within 2 s can only come from its watch of
	// the Lease, never from a retry that happened to fall in the window.
	b := startReplica(t, ns, LeaseTimings{Duration: 30 * time.Minute, RenewDeadline: 15 * time.Minute, RetryPeriod: 10 * time.Minute}, nil)
	// b follows as it does for most of its life: it found the Lease held, and the leader has renewed
	// it since.
	b.requests.waitFor(t, "the second replica to read the Lease", func(r leaseRequests) bool { return r.gets >= 1 })
	waitForLease(t, ns, func(l *coordinationv1.Lease) bool { return ptrValue(l.Spec.HolderIdentity) == leader })

	stopped := time.Now()
	a.stop(t)
	b.waitElected(t, 2*time.Minute)
	took := time.Since(stopped)
	t.Logf("the second replica leads %s after the leader was stopped", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("the second replica took %s to lead after the leader stopped, want at most 2s", took.Round(time.Millisecond))
	}
	lease := leaseOf(t, ns)
	if h := *lease.Spec.HolderIdentity; h == leader || h == "" {
		t.Errorf("the Lease names %q, want the second replica", h)
	}
	if acquired := lease.Spec.AcquireTime.Time; acquired.Before(stopped.Truncate(time.Microsecond)) {
		t.Errorf("the Lease says it was taken at %s, before the leader was stopped at %s", acquired.Format(time.RFC3339Nano), stopped.Format(time.RFC3339Nano))
	}
	for name, r := range map[string]*replica{"leader": a, "follower": b} {
		if n := r.requests.snapshot().forbidden; n > 0 {
			t.Errorf("the %s was refused %d Lease requests with the chart's permissions", name, n)
		}
	}
}

// TestLeaseIsReleasedAfterTheControllersStop: a leader stopped during a reconcile keeps leading, and
// renewing its Lease, until the reconcile has returned; only then does it release the Lease and the
// other replica lead. A Runnable that needs leadership, as the controllers do, plays a reconcile that
// goes on after the stop.
func TestLeaseIsReleasedAfterTheControllersStop(t *testing.T) {
	ns := leaseNamespace(t)
	stopping, finish := make(chan struct{}), make(chan struct{})
	a := startReplica(t, ns, shortLease, func(mgr manager.Manager) error {
		return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			<-ctx.Done()
			close(stopping)
			<-finish
			return nil
		}))
	})
	a.waitElected(t, time.Minute)
	leader := holder(t, ns)
	b := startReplica(t, ns, shortLease, nil)
	b.requests.waitFor(t, "the second replica to read the Lease", func(r leaseRequests) bool { return r.gets >= 1 })

	a.cancel()
	<-stopping
	// The leader renews again while its reconcile runs: it still leads, and the Lease is not released.
	if h := holder(t, ns); h != leader {
		t.Fatalf("the Lease names %q once the leader began to stop, while its reconcile still runs", h)
	}
	waitForLease(t, ns, func(lease *coordinationv1.Lease) bool {
		if h := ptrValue(lease.Spec.HolderIdentity); h != leader {
			t.Fatalf("the Lease names %q while the stopped leader's reconcile still runs", h)
		}
		return true
	})
	finished := time.Now()
	close(finish)
	b.waitElected(t, time.Minute)
	<-a.exited
	if a.err != nil {
		t.Errorf("the stopped leader: %v", a.err)
	}
	if acquired := leaseOf(t, ns).Spec.AcquireTime.Time; acquired.Before(finished.Truncate(time.Microsecond)) {
		t.Errorf("the second replica took the Lease at %s, before the leader's reconcile returned at %s", acquired.Format(time.RFC3339Nano), finished.Format(time.RFC3339Nano))
	}
}

// TestCrashedLeaderIsReplacedWhenItsLeaseExpires: a leader that stops without releasing its Lease (a
// crash; here client-go's elector with the operator's lock, told not to release) is replaced once the
// Lease expires, a lease duration after its last renewal, and not before; the other replica, which
// watches the Lease, takes it at once then, where client-go's lock alone takes it up to two jittered
// retry periods later (8.8 s with these timings).
func TestCrashedLeaderIsReplacedWhenItsLeaseExpires(t *testing.T) {
	ns := leaseNamespace(t)
	lock, err := newHandoverLock(operatorConfig(ns, nil), ns, shortLease)
	if err != nil {
		t.Fatal(err)
	}
	ctx, crash := context.WithCancel(t.Context())
	leading, exited := make(chan struct{}), make(chan struct{})
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: shortLease.Duration, RenewDeadline: shortLease.RenewDeadline, RetryPeriod: shortLease.RetryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{OnStartedLeading: func(context.Context) { close(leading) }, OnStoppedLeading: func() {}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { elector.Run(ctx); close(exited) }()
	t.Cleanup(func() { crash(); <-exited })
	select {
	case <-leading:
	case <-time.After(time.Minute):
		t.Fatal("the first replica did not lead")
	}
	b := startReplica(t, ns, shortLease, nil)
	b.requests.waitFor(t, "the second replica to read the Lease", func(r leaseRequests) bool { return r.gets >= 1 })

	// Crash right after a renewal, so that none is under way.
	renewed := waitForLease(t, ns, func(l *coordinationv1.Lease) bool {
		return ptrValue(l.Spec.HolderIdentity) == lock.Identity() && l.Spec.RenewTime.After(l.Spec.AcquireTime.Time)
	})
	crash()
	crashed := time.Now()
	<-exited
	if h := holder(t, ns); h != lock.Identity() {
		t.Fatalf("the crashed leader released its Lease (holder %q)", h)
	}
	last := leaseOf(t, ns)
	if !last.Spec.RenewTime.Equal(renewed.Spec.RenewTime) {
		t.Fatalf("the Lease was renewed after the crash: %s, then %s", renewed.Spec.RenewTime.Format(time.RFC3339Nano), last.Spec.RenewTime.Format(time.RFC3339Nano))
	}
	expires := last.Spec.RenewTime.Add(shortLease.Duration)

	b.waitElected(t, time.Minute)
	elected := time.Now()
	t.Logf("the second replica leads %s after the crash, %s after the Lease expired",
		elected.Sub(crashed).Round(time.Millisecond), elected.Sub(expires).Round(time.Millisecond))
	if elected.Before(expires) {
		t.Errorf("the second replica led at %s, before the Lease expired at %s", elected.Format(time.RFC3339Nano), expires.Format(time.RFC3339Nano))
	}
	if late := elected.Sub(expires); late > time.Second {
		t.Errorf("the second replica led %s after the Lease expired, want at most 1s", late.Round(time.Millisecond))
	}
}

// TestIdleReplicasCost: while the leader is idle, its only Lease requests are its renewals, one per
// retry period as before; the other replica reads the Lease once and opens one watch, and sends
// nothing more (client-go's lock alone reads it once per jittered retry period) and writes nothing.
func TestIdleReplicasCost(t *testing.T) {
	ns := leaseNamespace(t)
	a := startReplica(t, ns, shortLease, nil)
	a.waitElected(t, time.Minute)
	b := startReplica(t, ns, shortLease, nil)
	b.requests.waitFor(t, "the second replica to read the Lease", func(r leaseRequests) bool { return r.gets >= 1 })

	before := a.requests.snapshot()
	const renewals = 5
	a.requests.waitFor(t, fmt.Sprintf("%d renewals", renewals), func(r leaseRequests) bool { return r.updates >= before.updates+renewals })
	after := a.requests.snapshot()
	if after.gets != before.gets || after.creates != before.creates || after.watches != before.watches {
		t.Errorf("the leader sent other Lease requests than renewals: before %+v, after %+v", before, after)
	}
	times := after.updateTimes[before.updates:]
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < shortLease.RetryPeriod-100*time.Millisecond {
			t.Errorf("renewals %s apart, want one per retry period (%s)", gap.Round(time.Millisecond), shortLease.RetryPeriod)
		}
	}
	follower := b.requests.snapshot()
	if follower.gets != 1 || follower.watches != 1 || follower.creates != 0 || follower.updates != 0 {
		t.Errorf("the follower sent %+v over %d renewals, want one read and one watch", follower, renewals)
	}
}

// TestPodOutlivesTheShutdownGrace: the chart gives the operator's pod longer to stop than the operator
// waits for its reconciles, so that it releases its Lease before the kubelet kills it.
func TestPodOutlivesTheShutdownGrace(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "bosun.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var d struct {
			Kind string
			Spec struct {
				Template struct {
					Spec corev1.PodSpec
				}
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		if d.Kind != "Deployment" {
			continue
		}
		grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
		if grace == nil || time.Duration(*grace)*time.Second < ShutdownGrace+10*time.Second {
			t.Errorf("the operator's pod has terminationGracePeriodSeconds %v, want at least %s: the shutdown grace (%s) and time to release the Lease",
				ptrValue(grace), ShutdownGrace+10*time.Second, ShutdownGrace)
		}
		return
	}
	t.Fatal("no Deployment in deploy/bosun.yaml")
}

// replica is one operator, as operator.New builds it, running in the test process.
type replica struct {
	mgr      manager.Manager
	requests *leaseLog
	cancel   context.CancelFunc
	// exited is closed when the manager's Start has returned err.
	exited chan struct{}
	err    error
}

// startReplica starts an operator with leader election in namespace ns, with the given timings, as
// the operator's ServiceAccount (leaseNamespace's). edit, when set, changes its manager before it
// starts. It is stopped when the test ends, if not before.
func startReplica(t *testing.T, ns string, lease LeaseTimings, edit func(manager.Manager) error) *replica {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{requests: &leaseLog{}, exited: make(chan struct{})}
	mgr, err := New(operatorConfig(ns, r.requests), Options{
		Catalog: catalog.Embedded(), Resources: os.DirFS(filepath.Join(root, "resources")), Platform: values.Kubernetes,
		BosunVersion: "test", MetricsAddr: "0", HealthAddr: "0",
		LeaderElection: true, LeaderElectionNamespace: ns, Lease: lease,
	})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		if err := edit(mgr); err != nil {
			t.Fatal(err)
		}
	}
	r.mgr = mgr
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.err = mgr.Start(ctx); close(r.exited) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.exited:
		case <-time.After(ShutdownGrace + time.Minute):
			t.Error("a replica did not stop")
		}
	})
	return r
}

// waitElected waits until the replica leads, with its controllers started.
func (r *replica) waitElected(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-r.mgr.Elected():
	case <-r.exited:
		t.Fatalf("the replica stopped: %v", r.err)
	case <-time.After(timeout):
		t.Fatalf("the replica did not lead within %s", timeout)
	}
}

// stop cancels the replica's context, as SIGTERM does to `bosun-operator`, and waits until it stopped.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	<-r.exited
	if r.err != nil {
		t.Errorf("the replica stopped with an error: %v", r.err)
	}
}

// leaseRequests counts the requests a replica sent for its Lease.
type leaseRequests struct {
	gets, watches, creates, updates int
	updateTimes                     []time.Time
	// forbidden are the requests the API server refused for want of permission.
	forbidden int
}

// leaseLog records a replica's Lease requests, and wakes those waiting on them.
type leaseLog struct {
	mu      sync.Mutex
	counts  leaseRequests
	changed chan struct{}
}

func (l *leaseLog) record(req *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case req.Method == http.MethodGet && req.URL.Query().Get("watch") == "true":
		l.counts.watches++
	case req.Method == http.MethodGet:
		l.counts.gets++
	case req.Method == http.MethodPost:
		l.counts.creates++
	case req.Method == http.MethodPut:
		l.counts.updates++
		l.counts.updateTimes = append(l.counts.updateTimes, time.Now())
	}
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

func (l *leaseLog) snapshot() leaseRequests {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.counts
	s.updateTimes = append([]time.Time(nil), l.counts.updateTimes...)
	return s
}

// waitFor waits until the requests satisfy cond, for at most a minute.
func (l *leaseLog) waitFor(t *testing.T, what string, cond func(leaseRequests) bool) {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		l.mu.Lock()
		if cond(l.counts) {
			l.mu.Unlock()
			return
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("waiting for %s: Lease requests %+v", what, l.snapshot())
		}
	}
}

type recordingTransport struct {
	log  *leaseLog
	next http.RoundTripper
}

func (rt recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isLeaseRequest(req) {
		return rt.next.RoundTrip(req)
	}
	rt.log.record(req)
	resp, err := rt.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusForbidden {
		rt.log.mu.Lock()
		rt.log.counts.forbidden++
		rt.log.mu.Unlock()
	}
	return resp, err
}

// isLeaseRequest says whether req is about a Lease.
func isLeaseRequest(req *http.Request) bool {
	return strings.HasPrefix(req.URL.Path, "/apis/coordination.k8s.io/v1/namespaces/") && strings.Contains(req.URL.Path, "/leases")
}

// operatorAccount is who the replicas act as: the operator's ServiceAccount in the Lease's namespace.
const operatorAccount = "bosun-operator"

// operatorConfig is the admin's configuration acting as the operator's ServiceAccount in ns, with its
// Lease requests recorded in log when log is not nil.
func operatorConfig(ns string, log *leaseLog) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + ns + ":" + operatorAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}
	if log != nil {
		c.Wrap(func(next http.RoundTripper) http.RoundTripper { return recordingTransport{log: log, next: next} })
	}
	return c
}

// leaseNamespace creates a namespace for one test's Lease, and grants the operator's ServiceAccount
// there exactly the permissions of its manifests (chart/files/role.yaml): the ClusterRole, and the
// Role of the Lease, in that namespace instead of the chart's.
func leaseNamespace(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	c := kubernetes.NewForConfigOrDie(cfg)
	nsObj, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "lease-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns := nsObj.Name
	t.Cleanup(func() {
		_ = c.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		_ = c.RbacV1().ClusterRoleBindings().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	clusterRole, role := generatedRoles(t)
	clusterRole.Name = ns
	if _, err := c.RbacV1().ClusterRoles().Create(ctx, clusterRole, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.RbacV1().ClusterRoles().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	role.Namespace = ns
	if _, err := c.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: operatorAccount}}
	if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ns},
		Subjects:   subjects,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   subjects,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// generatedRoles reads the operator's ClusterRole and Role from chart/files/role.yaml.
func generatedRoles(t *testing.T) (*rbacv1.ClusterRole, *rbacv1.Role) {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "chart", "files", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var clusterRole *rbacv1.ClusterRole
	var role *rbacv1.Role
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "ClusterRole":
			clusterRole = &rbacv1.ClusterRole{}
			err = yaml.Unmarshal([]byte(doc), clusterRole)
		case "Role":
			role = &rbacv1.Role{}
			err = yaml.Unmarshal([]byte(doc), role)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if clusterRole == nil || role == nil {
		t.Fatal("chart/files/role.yaml lacks the ClusterRole or the Role")
	}
	return clusterRole, role
}

// leaseOf reads the leader election Lease in ns.
func leaseOf(t *testing.T, ns string) *coordinationv1.Lease {
	t.Helper()
	lease, err := kubernetes.NewForConfigOrDie(cfg).CoordinationV1().Leases(ns).Get(t.Context(), LeaderElectionID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return lease
}

// holder is who holds the Lease in ns; empty when it was released.
func holder(t *testing.T, ns string) string {
	t.Helper()
	return ptrValue(leaseOf(t, ns).Spec.HolderIdentity)
}

// waitForLease watches the Lease in ns until a change to it satisfies cond, for at most a minute, and
// returns it then. The Lease as it is when the watch begins does not count.
func waitForLease(t *testing.T, ns string, cond func(*coordinationv1.Lease) bool) *coordinationv1.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	w, err := kubernetes.NewForConfigOrDie(cfg).CoordinationV1().Leases(ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", LeaderElectionID).String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch lease, ok := ev.Object.(*coordinationv1.Lease); {
		case !ok || ev.Type == watch.Deleted:
			t.Fatalf("watching the Lease: %s %v", ev.Type, ev.Object)
		case ev.Type == watch.Modified && cond(lease):
			return lease
		}
	}
	t.Fatalf("waiting for a change to the Lease: %v", ctx.Err())
	return nil
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
