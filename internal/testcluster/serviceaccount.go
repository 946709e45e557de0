package testcluster

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// defaultServiceAccountPolicy names the mutating admission policy (and its
// binding) that gives a pod without a ServiceAccount the namespace's
// "default" one.
const defaultServiceAccountPolicy = "testcluster-default-service-account"

// installServiceAccountDefault makes the API server name the "default"
// ServiceAccount in pods that name none, which is the half of the
// ServiceAccount admission plugin a full cluster needs. The plugin itself is
// off (see startAPIServer), because it also refuses pods whose ServiceAccount
// the controller manager has not created yet, which a test that creates a
// namespace and then a pod would race. Without a ServiceAccount name, a pod
// that Istio's injector gives its projected istio-token volume is invalid,
// so `kubectl run` in an injected namespace would fail.
func (c *Cluster) installServiceAccountDefault(ctx context.Context) error {
	client, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return err
	}
	policy := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: defaultServiceAccountPolicy},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
						Rule: admissionregistrationv1.Rule{
							APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
						},
					},
				}},
			},
			MatchConditions: []admissionregistrationv1.MatchCondition{{
				Name:       "no-service-account",
				Expression: `!has(object.spec.serviceAccountName) || object.spec.serviceAccountName == ""`,
			}},
			FailurePolicy:      ptr.To(admissionregistrationv1.Fail),
			ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeApplyConfiguration,
				ApplyConfiguration: &admissionregistrationv1.ApplyConfiguration{
					Expression: `Object{spec: Object.spec{serviceAccountName: "default"}}`,
				},
			}},
		},
	}
	binding := &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: defaultServiceAccountPolicy},
		Spec:       admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: defaultServiceAccountPolicy},
	}
	policies := client.AdmissionregistrationV1().MutatingAdmissionPolicies()
	if _, err := policies.Create(ctx, policy, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("installing the ServiceAccount default: %w", err)
	}
	bindings := client.AdmissionregistrationV1().MutatingAdmissionPolicyBindings()
	if _, err := bindings.Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("installing the ServiceAccount default: %w", err)
	}
	// The API server loads policies asynchronously; a dry-run pod shows
	// when this one acts.
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "service-account-probe", Namespace: metav1.NamespaceDefault},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "registry.k8s.io/pause:3.10"}}},
	}
	return c.waitFor(ctx, "pods to get the default ServiceAccount", func(ctx context.Context) error {
		got, err := client.CoreV1().Pods(metav1.NamespaceDefault).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if got.Spec.ServiceAccountName != "default" {
			return fmt.Errorf("a new pod's serviceAccountName is %q", got.Spec.ServiceAccountName)
		}
		return nil
	})
}
