package crd_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/config/crd"
	"github.com/bosun-mesh/bosun/internal/schemacheck"
)

// TestOfflineCheckAgreesWithTheAPIServer runs every invalid manifest that the real API server refuses
// on create (TestInvalidManifestsAreRefused, TestWrongValuesAreRefused) through the offline check
// `bosun render` uses (internal/schemacheck over these CRDs), which must refuse it with the same
// message; and every manifest the server accepts must pass. Without this, render would print objects
// for manifests kubectl apply refuses.
func TestOfflineCheckAgreesWithTheAPIServer(t *testing.T) {
	ctx := context.Background()
	crds, err := crd.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	checker, err := schemacheck.New(crds)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range append(invalidCases(), wrongValueCases()...) {
		if tc.patch != "" {
			continue // an update, which an offline check of one manifest cannot see
		}
		t.Run(tc.name, func(t *testing.T) {
			_, err := checker.Check(ctx, parseManifest(t, tc.manifest))
			var invalid *schemacheck.InvalidError
			if !errors.As(err, &invalid) {
				t.Fatalf("Check gave %v; want an InvalidError containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
	for _, path := range docManifestPaths(t) {
		for _, obj := range readManifests(t, path) {
			if _, err := checker.Check(ctx, obj); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		}
	}
	// Manifests the API server accepts though they look wrong: both must accept them, alike.
	for _, manifest := range []string{
		// The API server clears the namespace of a cluster-scoped object.
		strings.Replace(validIstio, "name: invalid-case", "name: with-namespace\n  namespace: istio-system", 1),
	} {
		checked, err := checker.Check(ctx, parseManifest(t, manifest))
		if err != nil {
			t.Errorf("the offline check refused what the API server accepts: %v", err)
			continue
		}
		created := mustCreate(ctx, t, parseManifest(t, manifest))
		if created.GetNamespace() != checked.GetNamespace() {
			t.Errorf("namespace: the API server stored %q, the offline check %q", created.GetNamespace(), checked.GetNamespace())
		}
		deleteAndWait(t, created)
	}
}
