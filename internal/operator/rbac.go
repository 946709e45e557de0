package operator

// The operator's permissions: every request its code sends, and nothing else (docs/architecture.md#lesson-minimal-rbac: no
// wildcard). `make generate` turns these markers into chart/files/role.yaml, which the chart and the
// plain manifests install; a test there checks them against the kinds the code uses.
//
// bosun's own kinds: read and watched; IstioRevisions written by the Istio controller; every status
// written with server-side apply (patch); finalizers added and removed with patches; an owner's
// finalizers subresource updated, which the API server requires of whoever sets blockOwnerDeletion in an
// owner reference to it. The version policies' probes are dry-run creates of Istio, IstioRevision,
// IstioCNI and ZTunnel.
//
// +kubebuilder:rbac:groups=sailoperator.io,resources=istios;istiocnis;ztunnels,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=sailoperator.io,resources=istiorevisions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=sailoperator.io,resources=istiorevisiontags,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=sailoperator.io,resources=istios/status;istiorevisions/status;istiorevisiontags/status;istiocnis/status;ztunnels/status,verbs=patch
// +kubebuilder:rbac:groups=sailoperator.io,resources=istios/finalizers;istiorevisions/finalizers;istiorevisiontags/finalizers;istiocnis/finalizers;ztunnels/finalizers,verbs=update
//
// Workloads and namespaces, read as metadata to tell which revision they use.
//
// +kubebuilder:rbac:groups="",resources=pods;namespaces,verbs=get;list;watch
//
// Moving workloads to a new control plane (spec.updateStrategy.updateWorkloads, internal/move): the
// namespaces' labels and records patched; in the namespace being moved, its ReplicaSets' metadata read
// to find the Deployments of its pods, its StatefulSets read and, with Deployments and DaemonSets (whose
// rules are below), patched to restart them, and the one restarted watched until its rollout ends
// (move.Waker); its PodDisruptionBudgets read (their rules are below).
//
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=patch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=list
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=list;watch;patch
//
// The move also relabels, in the namespace being moved, the Gateway API Gateways (gateways and
// waypoints) pinned to an old revision, reading their metadata only.
//
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways,verbs=list;patch
//
// The kinds Istio's charts render (internal/apply.Kinds): applied with server-side apply (create and
// patch), watched for drift, deleted when pruned. istiod's ClusterRoles grant what istiod needs, which
// the operator does not hold itself: escalate and bind let it create those roles and their bindings
// without holding every permission they grant.
//
// +kubebuilder:rbac:groups="",resources=serviceaccounts;configmaps;services;endpoints;resourcequotas,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments;daemonsets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles;roles,verbs=get;list;watch;create;patch;delete;escalate;bind
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterrolebindings;rolebindings,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations;validatingwebhookconfigurations,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=k8s.cni.cncf.io,resources=network-attachment-definitions,verbs=get;list;watch;create;patch;delete
//
// Admission policies: those the charts render (watched, pruned) and the version policies the operator
// installs when it leads (internal/versionpolicy: read, then applied when they differ).
//
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingadmissionpolicies;validatingadmissionpolicybindings,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingadmissionpolicies;mutatingadmissionpolicybindings,verbs=get;create;patch
//
// Istio's CRDs (internal/controller/crds): their metadata read, then applied. Never deleted.
//
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;create;patch
//
// Events for every change and refusal (events.k8s.io), and the leader election's own events (core).
//
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
//
// The leader election Lease, in the operator's own namespace (the chart sets the namespace): read,
// created and updated by the elector, and watched by a replica that does not lead, so that it takes the
// Lease as soon as the leader releases it (handover.go).
//
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;watch;create;update,namespace=bosun-system
