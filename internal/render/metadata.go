package render

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Istio's charts make object names and label values from a revision's, a tag's or a release's name,
// and from the namespace. A name that is long enough, or has a dot where a DNS label has none, renders
// an object that the API server refuses; and then, after the objects before it were applied. Every
// rendered object's metadata is therefore checked with the API server's own rules (apimachinery's
// validators) before anything is applied or printed.

// nameRule is apimachinery's check of a kind's name, as the API server applies it: most kinds take a
// DNS subdomain (253 characters); a Service a DNS-1035 label and a Namespace a DNS-1123 label (63
// characters each); RBAC objects any path segment.
func nameRule(obj *unstructured.Unstructured) apimachineryvalidation.ValidateNameFunc {
	gvk := obj.GroupVersionKind()
	switch {
	case gvk.Group == "" && gvk.Kind == "Service":
		return apimachineryvalidation.NameIsDNS1035Label
	case gvk.Group == "" && gvk.Kind == "Namespace":
		return apimachineryvalidation.ValidateNamespaceName
	case gvk.Group == "rbac.authorization.k8s.io":
		return path.ValidatePathSegmentName
	default:
		return apimachineryvalidation.NameIsDNSSubdomain
	}
}

// checkMetadata returns what the API server would refuse in an object's name, namespace and labels,
// and in the labels of the pods it templates, in apimachinery's words.
func checkMetadata(obj *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	validName := nameRule(obj)
	if obj.GetName() == "" {
		errs = append(errs, field.Required(meta.Child("name"), "the chart rendered an object without a name"))
	} else {
		for _, msg := range validName(obj.GetName(), false) {
			errs = append(errs, field.Invalid(meta.Child("name"), obj.GetName(), msg))
		}
	}
	if ns := obj.GetNamespace(); ns != "" {
		for _, msg := range apimachineryvalidation.ValidateNamespaceName(ns, false) {
			errs = append(errs, field.Invalid(meta.Child("namespace"), ns, msg))
		}
	}
	errs = append(errs, checkLabels(obj.GetLabels(), meta.Child("labels"))...)
	// Workloads carry the revision in their pods' labels too.
	podPath := field.NewPath("spec", "template", "metadata", "labels")
	podLabels, found, err := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "labels")
	if err != nil {
		errs = append(errs, field.Invalid(podPath, nil, err.Error()))
	} else if found {
		errs = append(errs, checkLabels(podLabels, podPath)...)
	}
	return errs
}

// checkLabels checks labels one by one, in the order of their keys, so that an error names its label.
func checkLabels(labels map[string]string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		errs = append(errs, metav1validation.ValidateLabels(map[string]string{k: labels[k]}, fldPath.Key(k))...)
	}
	return errs
}

// InvalidObjectError says that a chart rendered an object the API server would refuse, and what to
// change so that it does not.
type InvalidObjectError struct {
	// Kind, Namespace and Name identify the object, and Template is the chart file it comes from.
	Kind, Namespace, Name, Template string
	Errors                          field.ErrorList
	// Advice says what the refused values are made from, and so what to shorten or rename.
	Advice string
}

func (e *InvalidObjectError) Error() string {
	id := e.Name
	if e.Namespace != "" {
		id = e.Namespace + "/" + e.Name
	}
	msgs := make([]string, 0, len(e.Errors))
	for _, err := range e.Errors {
		msgs = append(msgs, err.Error())
	}
	return fmt.Sprintf("%s %s (template %s) would be refused by the API server: %s; %s",
		e.Kind, id, e.Template, strings.Join(msgs, "; "), e.Advice)
}

// advice names the input a refused value is made from: the owner's name or the namespace, when the
// value holds it, else the values.
func advice(errs field.ErrorList, req Request) string {
	holds := func(part string) bool {
		if part == "" {
			return false
		}
		for _, e := range errs {
			if s, ok := e.BadValue.(string); ok && strings.Contains(s, part) {
				return true
			}
		}
		return false
	}
	switch {
	case holds(req.Owner.Name):
		return fmt.Sprintf("it is made from the name of %s %s (%d characters): shorten or rename it", req.Owner.Kind, req.Owner.Name, len(req.Owner.Name))
	case holds(req.Namespace):
		return fmt.Sprintf("it is made from the namespace %s (%d characters): choose a shorter one", req.Namespace, len(req.Namespace))
	default:
		return fmt.Sprintf("change the values of %s %s that name it", req.Owner.Kind, req.Owner.Name)
	}
}
