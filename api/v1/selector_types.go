package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// LabelSelector is a Kubernetes label selector as Istio's values take it (meshConfig.discoverySelectors,
// the injector's neverInjectSelector and alwaysInjectSelector, ambient's enablement selectors). It has
// the JSON form of metav1.LabelSelector, and a schema that refuses at admission what istiod could not
// parse: an unknown operator, values given to Exists or DoesNotExist, none given to In or NotIn. The
// API server names the field in its error. An empty selector selects everything.
type LabelSelector struct {
	// Labels a selected object carries, each with exactly this value.
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`

	// Requirements a selected object meets, all of them.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one requirement of a LabelSelector: a label key, an operator and values.
// +kubebuilder:validation:XValidation:rule="self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",message="values must be set for In and NotIn, and left out for Exists and DoesNotExist",fieldPath=".values"
type LabelSelectorRequirement struct {
	// The label key the requirement applies to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	Key string `json:"key"`

	// How the key's value is compared with values.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	Operator metav1.LabelSelectorOperator `json:"operator"`

	// The values compared: at least one for In and NotIn, none for Exists and DoesNotExist.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	Values []string `json:"values,omitempty"`
}

// Selector is the selector as the labels package evaluates it. Its error says what is wrong with a
// selector the API server did not check (one built in code, or read before this schema existed).
func (s *LabelSelector) Selector() (labels.Selector, error) {
	m := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	for _, r := range s.MatchExpressions {
		m.MatchExpressions = append(m.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key, Operator: r.Operator, Values: r.Values})
	}
	return metav1.LabelSelectorAsSelector(m)
}
