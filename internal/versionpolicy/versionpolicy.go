// Package versionpolicy makes the API server accept, in spec.version, exactly the Istio versions of
// the catalog the operator runs with, and give an empty spec.version the catalog's default.
//
// bosun's CRDs check only the shape of a version name (api/v1 version_types.go), so that the same
// CRDs serve the built-in catalog and a vendor's (--versions-file, BOSUN_VERSIONS_FILE). Which names
// are known is decided here, from a *catalog.Catalog, as admission policies the operator installs at
// start-up with server-side apply:
//
//   - ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1) with their bindings refuse, at
//     apply time, a spec.version the catalog does not know, with a message that names the field and
//     lists the versions bosun installs: aliases first, then concrete versions, newest first. Istio
//     and IstioCNI take any name of the catalog; ZTunnel (v1 and v1alpha1) only those with ambient
//     mode (Istio 1.24 or newer); IstioRevision only concrete versions. End-of-life names stay
//     accepted, so that existing manifests apply; bosun refuses them when it reconciles.
//   - A MutatingAdmissionPolicy (admissionregistration.k8s.io/v1, served by default since Kubernetes
//     1.36) with its binding sets an empty or absent spec.version of an Istio, IstioCNI or ZTunnel to
//     the catalog's default, so that `kubectl get istio` shows the version a manifest without one
//     runs. Where it is not installed, the version stays empty and bosun resolves it to the same
//     default (internal/desired).
//
// An update that leaves spec.version as it was is never refused, so an object whose version a newer
// catalog no longer has can still be edited, relabelled and deleted (its finalizer removed); bosun
// reports the version when it reconciles.
//
// Objects returns the objects, and Install applies them and waits until the API server enforces
// them. Admit does offline what the policies do, for `bosun render`, with the same message.
package versionpolicy

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/render"
)

// Names of the objects Objects returns. Each policy's binding has the policy's name.
const (
	// IstioPolicy checks spec.version of Istio and IstioCNI.
	IstioPolicy = "bosun-istio-versions"
	// ZTunnelPolicy checks spec.version of ZTunnel, v1 and v1alpha1.
	ZTunnelPolicy = "bosun-ztunnel-versions"
	// RevisionPolicy checks spec.version of IstioRevision.
	RevisionPolicy = "bosun-istiorevision-versions"
	// DefaultPolicy sets an empty spec.version of Istio, IstioCNI and ZTunnel to the catalog's default.
	DefaultPolicy = "bosun-version-default"
)

const group = "sailoperator.io"

// resources names the kinds a rule applies to, as an admission rule does.
type resources struct {
	apiVersions []string
	plural      []string
}

// rule is what one validating policy accepts, and how its refusal reads.
type rule struct {
	policy string
	// kinds are the kinds the rule applies to, as Admit sees them; match, as the API server does.
	kinds []string
	match []resources
	// what completes "spec.version "X" is not …".
	what string
	// accepted are the names the API takes; listed, the names the refusal offers.
	accepted, listed func(*catalog.Catalog) []string
}

// rules are the validating policies, one per set of accepted names.
var rules = []rule{
	{
		policy: IstioPolicy,
		kinds:  []string{"Istio", "IstioCNI"},
		match:  []resources{{apiVersions: []string{"v1"}, plural: []string{"istios", "istiocnis"}}},
		what:   "a version bosun knows",
		accepted: func(c *catalog.Catalog) []string {
			return c.Names()
		},
		listed: func(c *catalog.Catalog) []string {
			return c.Supported()
		},
	},
	{
		policy: ZTunnelPolicy,
		kinds:  []string{"ZTunnel"},
		match:  []resources{{apiVersions: []string{"v1", "v1alpha1"}, plural: []string{"ztunnels"}}},
		what:   "a version bosun knows with ambient mode (Istio 1.24 or newer), which ztunnel needs",
		accepted: func(c *catalog.Catalog) []string {
			return withAmbient(c, c.Names())
		},
		listed: func(c *catalog.Catalog) []string {
			return withAmbient(c, c.Supported())
		},
	},
	{
		policy: RevisionPolicy,
		kinds:  []string{"IstioRevision"},
		match:  []resources{{apiVersions: []string{"v1"}, plural: []string{"istiorevisions"}}},
		what:   "a concrete version bosun knows",
		accepted: func(c *catalog.Catalog) []string {
			return c.ConcreteNames()
		},
		listed: func(c *catalog.Catalog) []string {
			var names []string
			for _, v := range c.Versions() {
				names = append(names, v.Name)
			}
			return names
		},
	},
}

// defaulted are the kinds whose empty spec.version DefaultPolicy sets; IstioRevision is always
// written with a concrete version.
var defaulted = []resources{
	{apiVersions: []string{"v1"}, plural: []string{"istios", "istiocnis"}},
	{apiVersions: []string{"v1", "v1alpha1"}, plural: []string{"ztunnels"}},
}

// withAmbient keeps the names of versions with ambient mode: Istio 1.24 or newer. A supported name
// is judged by the version it resolves to, an end-of-life one by the version its name gives.
func withAmbient(c *catalog.Catalog, names []string) []string {
	var out []string
	for _, n := range names {
		if hasAmbient(c, n) {
			out = append(out, n)
		}
	}
	return out
}

func hasAmbient(c *catalog.Catalog, name string) bool {
	var major, minor uint64
	if v, err := c.Resolve(name); err == nil {
		major, minor = v.Semver.Major(), v.Semver.Minor()
	} else if _, err := fmt.Sscanf(strings.TrimPrefix(name, "v"), "%d.%d", &major, &minor); err != nil {
		return true // a name that says no version; the CRD's own check decides
	}
	return major > 1 || major == 1 && minor >= 24
}

// refusal is the message the API server and `bosun render` give for a spec.version that is not among
// the accepted names.
func (r rule) refusal(c *catalog.Catalog, version string) string {
	return fmt.Sprintf("spec.version %q is not %s; %s", version, r.what, r.advice(c))
}

func (r rule) advice(c *catalog.Catalog) string {
	listed := r.listed(c)
	if len(listed) == 0 {
		return "bosun's catalog has no such version"
	}
	return "set it to one of: " + strings.Join(listed, ", ")
}

// Objects returns the admission policies and bindings that make the API server accept exactly c's
// versions, ready for server-side apply: the ValidatingAdmissionPolicies IstioPolicy, ZTunnelPolicy
// and RevisionPolicy, the MutatingAdmissionPolicy DefaultPolicy, then a binding of each, of the same
// name. Their names are the same for every catalog, so applying them again with another catalog
// replaces the lists.
func Objects(c *catalog.Catalog) ([]*unstructured.Unstructured, error) {
	var policies, bindings []runtime.Object
	for _, r := range rules {
		policies = append(policies, r.policyObject(c))
		bindings = append(bindings, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   typeMeta("ValidatingAdmissionPolicyBinding"),
			ObjectMeta: objectMeta(r.policy),
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        r.policy,
				ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			},
		})
	}
	policies = append(policies, defaultPolicy(c))
	bindings = append(bindings, &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		TypeMeta:   typeMeta("MutatingAdmissionPolicyBinding"),
		ObjectMeta: objectMeta(DefaultPolicy),
		Spec:       admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: DefaultPolicy},
	})
	var out []*unstructured.Unstructured
	for _, obj := range append(policies, bindings...) {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, err
		}
		// What the API server sets itself; an applied object that names them would claim them.
		delete(m, "status")
		unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
		u := &unstructured.Unstructured{Object: m}
		render.SetHash(u)
		out = append(out, u)
	}
	return out, nil
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: kind}
}

func objectMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: map[string]string{render.LabelManagedBy: render.ManagedByValue}}
}

// operations are the requests the policies see: creating an object and changing it. A status update
// is a request on the status subresource, which the rules do not match.
var operations = []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}

func matchResources(rs []resources) *admissionregistrationv1.MatchResources {
	m := &admissionregistrationv1.MatchResources{}
	for _, r := range rs {
		m.ResourceRules = append(m.ResourceRules, admissionregistrationv1.NamedRuleWithOperations{
			RuleWithOperations: admissionregistrationv1.RuleWithOperations{
				Operations: operations,
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{group},
					APIVersions: r.apiVersions,
					Resources:   r.plural,
				},
			},
		})
	}
	return m
}

// The CEL of the validating policies. version is spec.version or ""; unchanged is true for an update
// that keeps the stored version; known is true for a name of the catalog, written with or without
// its leading v.
const (
	versionExpression   = `has(object.spec) && has(object.spec.version) ? object.spec.version : ''`
	unchangedExpression = `request.operation == 'UPDATE' && has(oldObject.spec) && has(oldObject.spec.version) && oldObject.spec.version == variables.version`
	validExpression     = `variables.version == '' || variables.unchanged || variables.known`
)

func (r rule) policyObject(c *catalog.Catalog) *admissionregistrationv1.ValidatingAdmissionPolicy {
	known := fmt.Sprintf(`(variables.version.matches('^[0-9]') ? 'v' + variables.version : variables.version) in [%s]`,
		celList(r.accepted(c)))
	return &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   typeMeta("ValidatingAdmissionPolicy"),
		ObjectMeta: objectMeta(r.policy),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: matchResources(r.match),
			Variables: []admissionregistrationv1.Variable{
				{Name: "version", Expression: versionExpression},
				{Name: "unchanged", Expression: unchangedExpression},
				{Name: "known", Expression: known},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: validExpression,
				// The same words as refusal, with the refused name; the message is the fallback
				// should the expression fail.
				MessageExpression: fmt.Sprintf(`'spec.version "' + variables.version + '" is not ' + %s + '; ' + %s`,
					celString(r.what), celString(r.advice(c))),
				Message: fmt.Sprintf("spec.version is not %s; %s", r.what, r.advice(c)),
				Reason:  ptr.To(metav1.StatusReasonInvalid),
			}},
		},
	}
}

func defaultPolicy(c *catalog.Catalog) *admissionregistrationv1.MutatingAdmissionPolicy {
	return &admissionregistrationv1.MutatingAdmissionPolicy{
		TypeMeta:   typeMeta("MutatingAdmissionPolicy"),
		ObjectMeta: objectMeta(DefaultPolicy),
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			MatchConstraints: matchResources(defaulted),
			MatchConditions: []admissionregistrationv1.MatchCondition{{
				Name:       "version-empty",
				Expression: `!has(object.spec) || !has(object.spec.version) || object.spec.version == ''`,
			}},
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeApplyConfiguration,
				ApplyConfiguration: &admissionregistrationv1.ApplyConfiguration{
					Expression: fmt.Sprintf(`Object{spec: Object.spec{version: %s}}`, celString(c.Default())),
				},
			}},
			// Without the default the object is still valid: bosun resolves an empty version to the
			// same default. A failing mutation must not stop a user's apply.
			FailurePolicy:      ptr.To(admissionregistrationv1.Ignore),
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}
}

// celString quotes s as a CEL string literal.
func celString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func celList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = celString(n)
	}
	return strings.Join(quoted, ", ")
}
