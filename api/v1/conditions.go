package v1

// Condition types. Every kind reports its conditions as metav1.Condition in status.conditions, keyed by
// type; status.state summarises them (see the State* constants).
const (
	// ConditionReconciled is True when bosun applied everything the spec asks for. False means the spec
	// could not be acted on; the reason says why and the message what to change.
	ConditionReconciled = "Reconciled"

	// ConditionReady is True when the components the resource owns (istiod Deployment, CNI or ZTunnel
	// DaemonSet) run the desired number of ready pods.
	ConditionReady = "Ready"

	// ConditionInUse is True when a namespace or pod references the revision or tag, so removing it
	// would strand workloads. Unknown means bosun could not tell, which never allows pruning.
	ConditionInUse = "InUse"

	// ConditionDependenciesHealthy is True when the components the control plane needs (IstioCNI on
	// OpenShift, ZTunnel in ambient mode) exist and are Ready.
	ConditionDependenciesHealthy = "DependenciesHealthy"

	// ConditionScopeConflict is True on an Istio when a namespace is claimed by it and by another mesh
	// of the cluster: both meshes' discovery selectors select it, or its injection labels name one
	// mesh's revision while the other's selectors select it. The message names the namespaces and how
	// each mesh claims them. bosun changes nothing; the condition is absent when there is no conflict.
	ConditionScopeConflict = "ScopeConflict"

	// ConditionRemoteClustersReachable is set on an Istio whose istiod serves other clusters
	// (global.externalIstiod): True when every cluster its remote secrets name answers, with their
	// names; False, naming the clusters that do not and why, or when no remote secret names one; Unknown
	// when bosun may not read the remote secrets. It never changes the Istio's state: an unreachable
	// cluster does not stop this one's updates, it only keeps the revisions it may still use.
	ConditionRemoteClustersReachable = "RemoteClustersReachable"

	// ConditionWorkloadsUpdated is set on an Istio whose spec.updateStrategy.updateWorkloads is true:
	// True when every workload bosun can restart in the mesh's namespaces runs the active revision's
	// proxy; False while bosun moves them (Moving), when it stopped on a workload that did not become
	// available and moved its namespace back (Paused), while it waits for the new control plane, or
	// when it left workloads it may not restart (WorkloadsLeft). It never changes the Istio's state.
	ConditionWorkloadsUpdated = "WorkloadsUpdated"

	// ConditionUpdatePreflight is set on an Istio once a change of its version has been checked before
	// bosun made it: True when the checks found nothing; False, listing the findings, when they found
	// something to look at (proxies outside the supported skew, node agents of an unsupported version,
	// PodDisruptionBudgets that will hold the move of workloads, namespaces whose label names nothing,
	// values the new version's charts refuse). Soft findings warn and the change proceeds; a hard one
	// refuses the change (reason PreflightFailed, and Reconciled says what to fix). It never changes the
	// Istio's state by itself.
	ConditionUpdatePreflight = "UpdatePreflight"
)

// Condition reasons. A True condition carries the reason named after its type; the others explain why a
// condition is not True.
const (
	// ReasonReconciled is the reason of a True Reconciled condition.
	ReasonReconciled = "Reconciled"
	// ReasonReconcileError means applying the desired state failed; the message carries the error.
	ReasonReconcileError = "ReconcileError"
	// ReasonNameAlreadyExists means an older IstioRevision or IstioRevisionTag already uses this name.
	ReasonNameAlreadyExists = "NameAlreadyExists"
	// ReasonRefNotFound means the IstioRevisionTag's or ZTunnel's targetRef names nothing that exists.
	ReasonRefNotFound = "RefNotFound"
	// ReasonNamespaceNotFound means the namespace the resource installs into does not exist or is being
	// deleted. bosun acts as soon as the namespace is created.
	ReasonNamespaceNotFound = "NamespaceNotFound"
	// ReasonVersionSkew means an IstioCNI's or ZTunnel's version is neither the minor version of a
	// control plane that needs it nor one behind (a node agent never runs ahead of its control plane);
	// nothing is applied, and the message names the IstioRevision and the version to set.
	ReasonVersionSkew = "VersionSkew"
	// ReasonVersionChangeNotAllowed means an InPlace Istio was asked to move more than one minor version
	// at once; the message names the versions it may move to next.
	ReasonVersionChangeNotAllowed = "VersionChangeNotAllowed"
	// ReasonNamespacesShared is the reason of a True ScopeConflict condition.
	ReasonNamespacesShared = "NamespacesShared"
	// ReasonClustersReachable is the reason of a True RemoteClustersReachable condition.
	ReasonClustersReachable = "ClustersReachable"
	// ReasonClusterUnreachable means a cluster named by a remote secret cannot be read.
	ReasonClusterUnreachable = "ClusterUnreachable"
	// ReasonNoRemoteClusters means no remote secret in the Istio's namespace names a cluster.
	ReasonNoRemoteClusters = "NoRemoteClusters"
	// ReasonRemoteSecretsUnreadable means bosun could not read the remote secrets.
	ReasonRemoteSecretsUnreadable = "RemoteSecretsUnreadable"
	// ReasonWorkloadsUpdated is the reason of a True WorkloadsUpdated condition.
	ReasonWorkloadsUpdated = "WorkloadsUpdated"
	// ReasonMoving means bosun is moving workloads to the active revision, one namespace at a time; the
	// message names the workload whose rollout it awaits.
	ReasonMoving = "Moving"
	// ReasonPaused means a workload bosun restarted did not become available with the new proxy: bosun
	// moved its namespace back to the old revision, restarted its workloads onto the old proxy, and
	// stopped. The message names the workload, why, and how to resume.
	ReasonPaused = "Paused"
	// ReasonWaitingForControlPlane means the active revision is not Ready yet; no workload moves before.
	ReasonWaitingForControlPlane = "WaitingForControlPlane"
	// ReasonWorkloadsLeft means bosun moved what it may and left workloads it must not restart (bare
	// pods, Jobs, workloads whose PodDisruptionBudget allows no disruption); the message lists them.
	ReasonWorkloadsLeft = "WorkloadsLeft"
	// ReasonPreflightPassed is the reason of a True UpdatePreflight condition.
	ReasonPreflightPassed = "Passed"
	// ReasonPreflightWarnings means the checks before a version change found something to look at; the
	// message lists it.
	ReasonPreflightWarnings = "Warnings"
	// ReasonPreflightFailed means the checks before a version change found something the change would
	// break (node agents the new version does not support, values its charts refuse, proxies left outside
	// the supported skew): the change is refused, nothing of it is applied, and the running revision keeps
	// serving. It is the reason of both the UpdatePreflight and the Reconciled condition; the message says
	// what to fix, and the change proceeds once it is fixed.
	ReasonPreflightFailed = "PreflightFailed"
	// ReasonInvalidWave means a namespace's bosun.dev/update-wave annotation is not a whole number; no
	// workload moves until it is fixed.
	ReasonInvalidWave = "InvalidWave"
	// ReasonPending means the IstioRevision an Istio reports has not reported this condition yet; it is
	// Unknown until it does.
	ReasonPending = "Pending"

	// ReasonReady is the reason of a True Ready condition.
	ReasonReady = "Ready"
	// ReasonIstiodNotReady means the istiod Deployment is missing, scaled to zero, or has unready pods.
	ReasonIstiodNotReady = "IstiodNotReady"
	// ReasonRemoteIstiodNotReady means a remote revision's external istiod does not answer yet.
	ReasonRemoteIstiodNotReady = "RemoteIstiodNotReady"
	// ReasonDaemonSetNotReady means the CNI or ZTunnel DaemonSet is missing, or some of the pods it
	// scheduled are not ready (or not yet scheduled).
	ReasonDaemonSetNotReady = "DaemonSetNotReady"
	// ReasonDaemonSetNotScheduled means the CNI or ZTunnel DaemonSet schedules no pod at all: no node
	// matches its node selector, affinity and tolerations.
	ReasonDaemonSetNotScheduled = "DaemonSetNotScheduled"
	// ReasonDaemonSetRollingOut means the CNI or ZTunnel DaemonSet has a new template (a new version
	// or new values) that not every node runs yet. Under updateStrategy OnDelete it stays so until the
	// old pods are deleted by hand.
	ReasonDaemonSetRollingOut = "DaemonSetRollingOut"
	// ReasonReadinessCheckFailed means readiness could not be determined; the condition is Unknown.
	ReasonReadinessCheckFailed = "ReadinessCheckFailed"

	// ReasonDependenciesHealthy is the reason of a True DependenciesHealthy condition.
	ReasonDependenciesHealthy = "DependenciesHealthy"
	// ReasonIstioCNINotFound means the control plane needs an IstioCNI and none exists.
	ReasonIstioCNINotFound = "IstioCNINotFound"
	// ReasonIstioCNINotHealthy means the IstioCNI exists but is not Ready.
	ReasonIstioCNINotHealthy = "IstioCNINotHealthy"
	// ReasonZTunnelNotFound means an ambient control plane needs a ZTunnel and none exists.
	ReasonZTunnelNotFound = "ZTunnelNotFound"
	// ReasonZTunnelNotHealthy means the ZTunnel exists but is not Ready.
	ReasonZTunnelNotHealthy = "ZTunnelNotHealthy"
	// ReasonIstioCNIVersionSkew means the IstioCNI's version is neither the control plane's minor
	// version nor one behind it; the message names the version to set.
	ReasonIstioCNIVersionSkew = "IstioCNIVersionSkew"
	// ReasonZTunnelVersionSkew means the ZTunnel's version is neither the control plane's minor version
	// nor one behind it; the message names the version to set.
	ReasonZTunnelVersionSkew = "ZTunnelVersionSkew"

	// ReasonReferencedByWorkloads is the reason of a True InUse condition.
	ReasonReferencedByWorkloads = "ReferencedByWorkloads"
	// ReasonNotReferencedByAnything means no namespace or pod references the revision or tag.
	ReasonNotReferencedByAnything = "NotReferencedByAnything"
	// ReasonUsageCheckFailed means usage could not be determined; the condition is Unknown and the
	// revision is never pruned while it stays so.
	ReasonUsageCheckFailed = "UsageCheckFailed"
)

// StateHealthy is status.state when every condition that state summarises is True. Otherwise state is
// the reason of the first condition, in the kind's documented order, that is not True.
const StateHealthy = "Healthy"
