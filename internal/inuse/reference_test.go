package inuse

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// m builds a label or annotation map from key, value pairs.
func m(kv ...string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestNamespaceReference(t *testing.T) {
	cases := []struct {
		name     string
		labels   map[string]string
		want     string
		optedOut bool
	}{
		{"no labels", nil, "", false},
		{"istio.io/rev names a revision", m(LabelRev, "prod-1-27"), "prod-1-27", false},
		{"istio.io/rev names a tag", m(LabelRev, "prod"), "prod", false},
		{"empty istio.io/rev references nothing", m(LabelRev, ""), "", false},
		{"istio-injection=enabled references default", m(LabelInjection, "enabled"), Default, false},
		{"istio-injection=enabled wins over istio.io/rev", m(LabelInjection, "enabled", LabelRev, "prod-1-27"), Default, false},
		{"istio-injection=disabled opts out", m(LabelInjection, "disabled"), "", true},
		{"istio-injection=disabled opts out despite istio.io/rev", m(LabelInjection, "disabled", LabelRev, "prod-1-27"), "", true},
		{"any other istio-injection value opts out", m(LabelInjection, "Enabled"), "", true},
		{"an empty istio-injection opts out", m(LabelInjection, ""), "", true},
		{"other labels are ignored", m("app", "shop", LabelInject, "true"), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, optedOut := NamespaceReference(tc.labels)
			if got != tc.want || optedOut != tc.optedOut {
				t.Errorf("NamespaceReference(%v) = %q, %t; want %q, %t", tc.labels, got, optedOut, tc.want, tc.optedOut)
			}
		})
	}
}

func TestPodReferences(t *testing.T) {
	injected := m(AnnotationRev, "prod-1-27")
	cases := []struct {
		name                  string
		labels, annotations   map[string]string
		phase                 corev1.PodPhase
		byAnnotation, byLabel string
	}{
		{"no labels or annotations", nil, nil, corev1.PodRunning, "", ""},
		{"injected Running pod", nil, injected, corev1.PodRunning, "prod-1-27", ""},
		{"injected Pending pod counts", nil, injected, corev1.PodPending, "prod-1-27", ""},
		{"injected pod in phase Unknown counts", nil, injected, corev1.PodUnknown, "prod-1-27", ""},
		{"pod without a phase (metadata-only cache) counts", nil, injected, "", "prod-1-27", ""},
		{"Succeeded pod references nothing", m(LabelRev, "prod"), injected, corev1.PodSucceeded, "", ""},
		{"Failed pod references nothing", m(LabelRev, "prod"), injected, corev1.PodFailed, "", ""},
		{"istio.io/rev label", m(LabelRev, "prod"), nil, corev1.PodRunning, "", "prod"},
		{"sidecar.istio.io/inject=true references default", m(LabelInject, "true"), nil, corev1.PodRunning, "", Default},
		{"istio.io/rev label wins over sidecar.istio.io/inject=true", m(LabelInject, "true", LabelRev, "prod"), nil, corev1.PodRunning, "", "prod"},
		{"empty istio.io/rev label falls back to default", m(LabelInject, "true", LabelRev, ""), nil, corev1.PodRunning, "", Default},
		{"sidecar.istio.io/inject=false opts the labels out", m(LabelInject, "false", LabelRev, "prod"), nil, corev1.PodRunning, "", ""},
		{"sidecar.istio.io/inject=false leaves the annotation", m(LabelInject, "false"), injected, corev1.PodRunning, "prod-1-27", ""},
		{"another sidecar.istio.io/inject value is not true", m(LabelInject, "yes"), nil, corev1.PodRunning, "", ""},
		{"another sidecar.istio.io/inject value is not false either", m(LabelInject, "yes", LabelRev, "prod"), nil, corev1.PodRunning, "", "prod"},
		{"annotation and labels together", m(LabelRev, "prod"), injected, corev1.PodRunning, "prod-1-27", "prod"},
		{"istio-injection on a pod means nothing", m(LabelInjection, "enabled"), nil, corev1.PodRunning, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			byAnnotation, byLabel := PodReferences(tc.labels, tc.annotations, tc.phase)
			if byAnnotation != tc.byAnnotation || byLabel != tc.byLabel {
				t.Errorf("PodReferences(%v, %v, %q) = %q, %q; want %q, %q",
					tc.labels, tc.annotations, tc.phase, byAnnotation, byLabel, tc.byAnnotation, tc.byLabel)
			}
		})
	}
}

// TestIndexKeys checks the values the operator's field index stores: a pod that stops counting leaves
// the index, so it stops keeping its revision in use (docs/architecture.md#lesson-finished-pods).
func TestIndexKeys(t *testing.T) {
	cases := []struct {
		name string
		got  []string
		want []string
	}{
		{"namespace with istio.io/rev", NamespaceIndexKeys(m(LabelRev, "prod")), []string{"label:prod"}},
		{"namespace with istio-injection=enabled", NamespaceIndexKeys(m(LabelInjection, "enabled")), []string{"label:default"}},
		{"opted-out namespace", NamespaceIndexKeys(m(LabelInjection, "disabled", LabelRev, "prod")), nil},
		{"unlabelled namespace", NamespaceIndexKeys(nil), nil},
		{"injected pod", PodIndexKeys(nil, m(AnnotationRev, "prod-1-27"), corev1.PodRunning), []string{"annotation:prod-1-27"}},
		{"pod with annotation and label", PodIndexKeys(m(LabelRev, "prod"), m(AnnotationRev, "prod-1-27"), ""), []string{"annotation:prod-1-27", "label:prod"}},
		{"same name by annotation and label", PodIndexKeys(m(LabelInject, "true"), m(AnnotationRev, Default), ""), []string{"annotation:default", "label:default"}},
		{"Succeeded pod is indexed under nothing", PodIndexKeys(m(LabelRev, "prod"), m(AnnotationRev, "prod-1-27"), corev1.PodSucceeded), nil},
		{"Failed pod is indexed under nothing", PodIndexKeys(m(LabelRev, "prod"), m(AnnotationRev, "prod-1-27"), corev1.PodFailed), nil},
		{"pod without references", PodIndexKeys(m("app", "shop"), nil, corev1.PodRunning), nil},
	}
	for _, tc := range cases {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: keys %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
