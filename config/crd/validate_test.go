package crd_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/config/crd"
)

// TestValidateAgreesWithTheAPIServer runs every invalid manifest that the real API server refuses on
// create (TestInvalidManifestsAreRefused, TestWrongValuesAreRefused) through the offline validator
// `bosun render` uses, which must refuse it with the same message; and every manifest the server
// accepts must pass. Without this, render would print objects for manifests kubectl apply refuses.
func TestValidateAgreesWithTheAPIServer(t *testing.T) {
	ctx := context.Background()
	for _, tc := range append(invalidCases(), wrongValueCases()...) {
		if tc.patch != "" {
			continue // an update, which an offline check of one manifest cannot see
		}
		t.Run(tc.name, func(t *testing.T) {
			_, err := crd.Validate(ctx, parseManifest(t, tc.manifest))
			var invalid *crd.ValidationError
			if !errors.As(err, &invalid) {
				t.Fatalf("Validate gave %v; want a ValidationError containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
	for _, path := range docManifestPaths(t) {
		for _, obj := range readManifests(t, path) {
			if _, err := crd.Validate(ctx, obj); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
	}
}

func TestValidateDefaults(t *testing.T) {
	got, err := crd.Validate(context.Background(), parseManifest(t, "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata:\n  name: bare"))
	if err != nil {
		t.Fatal(err)
	}
	spec := got.Object["spec"].(map[string]any)
	if spec["version"] != defaultVersion || spec["namespace"] != "istio-system" {
		t.Errorf("defaulted spec = %v", spec)
	}
}
