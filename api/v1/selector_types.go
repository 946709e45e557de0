package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// LabelSelector is a Kubernetes label selector as Istio's values take it (meshConfig.discoverySelectors,
// the injector's neverInjectSelector and alwaysInjectSelector, ambient's enablement selectors). It has
// the JSON form of metav1.LabelSelector, and a schema that refuses at admission what istiod could not
// parse: an unknown operator, values given to Exists or DoesNotExist, none given to In or NotIn, a
// requirement's key that is not a label key, a value that is not a label value. (The keys of
// matchLabels are not checked: a CEL rule over them costs more than the API server allows.) The API
// server names the field in its error. An empty selector selects everything.
type LabelSelector struct {
	// Labels a selected object carries, each with exactly this value.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	MatchLabels map[string]LabelValue `json:"matchLabels,omitempty"`

	// Requirements a selected object meets, all of them.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelValue is a label's value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a
// letter or digit, or empty.
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`
type LabelValue string

// LabelSelectorRequirement is one requirement of a LabelSelector: a label key, an operator and values.
// +kubebuilder:validation:XValidation:rule="self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",message="values must be set for In and NotIn, and left out for Exists and DoesNotExist",fieldPath=".values"
type LabelSelectorRequirement struct {
	// The label key the requirement applies to: an optional DNS-subdomain prefix and '/', then letters,
	// digits, '-', '_' or '.', starting and ending with a letter or digit.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
	Key string `json:"key"`

	// How the key's value is compared with values.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	Operator metav1.LabelSelectorOperator `json:"operator"`

	// The values compared: at least one for In and NotIn, none for Exists and DoesNotExist.
	// +optional
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`
	// +listType=atomic
	Values []string `json:"values,omitempty"`
}

// Selector is the selector as the labels package evaluates it. Its error says what is wrong with a
// selector the API server did not check (one built in code, or read before this schema existed).
func (s *LabelSelector) Selector() (labels.Selector, error) {
	m := &metav1.LabelSelector{}
	for k, v := range s.MatchLabels {
		if m.MatchLabels == nil {
			m.MatchLabels = map[string]string{}
		}
		m.MatchLabels[k] = string(v)
	}
	for _, r := range s.MatchExpressions {
		m.MatchExpressions = append(m.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key, Operator: r.Operator, Values: r.Values})
	}
	return metav1.LabelSelectorAsSelector(m)
}
