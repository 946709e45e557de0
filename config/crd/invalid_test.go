//go:build integration

package crd_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
)

const (
	validIstio = `apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: invalid-case
spec:
  version: v1.27.0
  namespace: istio-system`
	validCNI = `apiVersion: sailoperator.io/v1
kind: IstioCNI
metadata:
  name: default
spec:
  version: v1.27.0
  namespace: istio-cni`
	validRevision = `apiVersion: sailoperator.io/v1
kind: IstioRevision
metadata:
  name: prod
spec:
  version: v1.27.0
  namespace: istio-system
  values:
    revision: prod
    global:
      istioNamespace: istio-system`
)

// TestInvalidManifestsAreRefused sends manifests and patches a user could get wrong and checks that the
// API server refuses each with a message that says what to change, and that a refused patch leaves the
// existing object exactly as it was.
func TestInvalidManifestsAreRefused(t *testing.T) {
	for _, tc := range invalidCases() {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			obj := parseManifest(t, tc.manifest)
			if tc.patch == "" {
				created, err := create(ctx, t, obj)
				if err == nil {
					deleteAndWait(t, created)
					t.Fatalf("the API server accepted it; want an error containing %q", tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
				}
				return
			}
			before := mustCreate(ctx, t, obj)
			_, err := mergePatch(ctx, t, obj, tc.patch)
			if err == nil {
				t.Fatalf("the API server accepted the patch; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
			after := get(ctx, t, obj)
			if !equality.Semantic.DeepEqual(before.Object, after.Object) {
				t.Errorf("the refused patch changed the object:\nbefore %v\nafter  %v", before.Object, after.Object)
			}
		})
	}
}

// invalidCase is a manifest, or a patch of a valid one, that must be refused.
type invalidCase struct {
	name string
	// manifest is created; when patch is set, it must be valid and the patch is what is refused.
	manifest string
	patch    string
	want     string // a part of the API server's message
}

func invalidCases() []invalidCase {
	return []invalidCase{
		{
			name:     "changing an Istio's namespace",
			manifest: validIstio,
			patch:    `{"spec":{"namespace":"mesh"}}`,
			want:     "spec.namespace is immutable",
		},
		{
			name:     "changing an IstioCNI's namespace",
			manifest: validCNI,
			patch:    `{"spec":{"namespace":"kube-system"}}`,
			want:     "spec.namespace is immutable",
		},
		{
			name:     "changing an IstioRevision's namespace",
			manifest: validRevision,
			patch:    `{"spec":{"namespace":"mesh","values":{"global":{"istioNamespace":"mesh"}}}}`,
			want:     "spec.namespace is immutable",
		},
		{
			name:     "an IstioCNI not named default",
			manifest: strings.Replace(validCNI, "name: default", "name: cni", 1),
			want:     "an IstioCNI must be named 'default'",
		},
		{
			name:     "a ZTunnel not named default",
			manifest: "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: ztunnel\nspec:\n  version: v1.27.0",
			want:     "a ZTunnel must be named 'default'",
		},
		{
			name:     "a v1alpha1 ZTunnel not named default",
			manifest: "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: ztunnel\nspec:\n  version: v1.27.0",
			want:     "a ZTunnel must be named 'default'",
		},
		{
			name:     "an unknown update strategy",
			manifest: validIstio + "\n  updateStrategy:\n    type: BlueGreen",
			want:     `spec.updateStrategy.type: Unsupported value: "BlueGreen": supported values: "InPlace", "RevisionBased"`,
		},
		{
			name:     "a negative revision deletion grace period",
			manifest: validIstio + "\n  updateStrategy:\n    inactiveRevisionDeletionGracePeriodSeconds: -5",
			want:     "spec.updateStrategy.inactiveRevisionDeletionGracePeriodSeconds: Invalid value: -5: spec.updateStrategy.inactiveRevisionDeletionGracePeriodSeconds in body should be greater than or equal to 0",
		},
		{
			name:     "a tag pointing at a Deployment",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: canary\nspec:\n  targetRef:\n    kind: Deployment\n    name: istiod",
			want:     `spec.targetRef.kind: Unsupported value: "Deployment": supported values: "Istio", "IstioRevision"`,
		},
		{
			name:     "a tag without a target name",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: canary\nspec:\n  targetRef:\n    kind: Istio",
			want:     "spec.targetRef.name: Required value",
		},
		{
			name:     "a tag with an empty target name",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: canary\nspec:\n  targetRef:\n    kind: Istio\n    name: \"\"",
			want:     "spec.targetRef.name in body should be at least 1 chars long",
		},
		{
			name:     "a tag without a spec",
			manifest: "apiVersion: sailoperator.io/v1\nkind: IstioRevisionTag\nmetadata:\n  name: canary",
			want:     "spec: Required value",
		},
		{
			name:     "a revision whose name and values.revision disagree",
			manifest: strings.Replace(validRevision, "revision: prod", "revision: canary", 1),
			want:     "spec.values.revision must equal metadata.name, or be empty when the name is 'default'",
		},
		{
			name:     "a revision without values.revision",
			manifest: strings.Replace(validRevision, "    revision: prod\n", "", 1),
			want:     "spec.values.revision must equal metadata.name, or be empty when the name is 'default'",
		},
		{
			name:     "the default revision with a non-empty values.revision",
			manifest: strings.Replace(validRevision, "name: prod", "name: default", 1),
			want:     "spec.values.revision must equal metadata.name, or be empty when the name is 'default'",
		},
		{
			name:     "a revision whose istioNamespace is not its namespace",
			manifest: strings.Replace(validRevision, "istioNamespace: istio-system", "istioNamespace: mesh", 1),
			want:     "spec.values.global.istioNamespace must be set and equal spec.namespace",
		},
		{
			name:     "a revision without values.global.istioNamespace",
			manifest: strings.Replace(validRevision, "    global:\n      istioNamespace: istio-system", "", 1),
			want:     "spec.values.global.istioNamespace must be set and equal spec.namespace",
		},
		{
			name:     "a revision with an alias for a version",
			manifest: strings.Replace(validRevision, "version: v1.27.0", "version: v1.27-latest", 1),
			want:     "spec.version must be a concrete version such as v1.27.3, not an alias: an Istio resolves its alias before it writes an IstioRevision",
		},
		{
			name:     "a revision of a version bosun's catalog does not have",
			manifest: strings.Replace(validRevision, "version: v1.27.0", "version: v1.99.0", 1),
			want:     `spec.version "v1.99.0" is not a concrete version bosun knows; set it to one of: v1.31.0-snapshot.eed52ebb, v1.27.0-snapshot.b9159ca3, v1.25.0-snapshot.be4b14ad`,
		},
		{
			name:     "a revision without a version",
			manifest: strings.Replace(validRevision, "  version: v1.27.0\n", "", 1),
			want:     "spec.version: Required value",
		},
		{
			name:     "an Istio whose istioNamespace is not its namespace",
			manifest: validIstio + "\n  values:\n    global:\n      istioNamespace: mesh",
			want:     "spec.values.global.istioNamespace must equal spec.namespace",
		},
		{
			name:     "an unknown profile",
			manifest: validIstio + "\n  profile: production",
			want:     `spec.profile: Unsupported value: "production": supported values: "ambient", "default"`,
		},
		{
			name:     "an IstioCNI with an unknown profile",
			manifest: validCNI + "\n  profile: minimal",
			want:     `spec.profile: Unsupported value: "minimal"`,
		},
		{
			name:     "a version that is not a version",
			manifest: strings.Replace(validIstio, "version: v1.27.0", "version: stable", 1),
			want:     "spec.version must be a version such as v1.27.3 or an alias such as v1.27-latest or latest",
		},
		{
			name:     "a version bosun's catalog does not have",
			manifest: strings.Replace(validCNI, "version: v1.27.0", "version: v1.99.0", 1),
			want:     `spec.version "v1.99.0" is not a version bosun knows; set it to one of: latest, v1.31-latest, v1.27-latest, v1.25-latest, v1.31.0-snapshot.eed52ebb, v1.27.0-snapshot.b9159ca3, v1.25.0-snapshot.be4b14ad`,
		},
		{
			name:     "changing an Istio's version to one bosun's catalog does not have",
			manifest: validIstio,
			patch:    `{"spec":{"version":"v1.99-latest"}}`,
			want:     `spec.version "v1.99-latest" is not a version bosun knows; set it to one of: latest, v1.31-latest`,
		},
		{
			name:     "a ZTunnel older than ambient mode",
			manifest: "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  version: v1.23.2",
			want:     "spec.version must be Istio 1.24 or newer: ztunnel needs ambient mode, which Istio has from 1.24",
		},
		{
			name:     "a v1alpha1 ZTunnel of a version bosun's catalog does not have",
			manifest: "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  version: 1.30.2",
			want:     `spec.version "1.30.2" is not a version bosun knows with ambient mode (Istio 1.24 or newer), which ztunnel needs; set it to one of: latest, v1.31-latest`,
		},
		{
			name:     "an empty namespace",
			manifest: strings.Replace(validIstio, "namespace: istio-system", `namespace: ""`, 1),
			want:     "spec.namespace in body should be at least 1 chars long",
		},
		{
			name:     "a namespace longer than Kubernetes allows",
			manifest: strings.Replace(validCNI, "namespace: istio-cni", "namespace: "+strings.Repeat("n", 64), 1),
			want:     "spec.namespace: Too long: may not be more than 63 bytes",
		},
		{
			name:     "a name that is not a DNS subdomain",
			manifest: strings.Replace(validIstio, "name: invalid-case", "name: Invalid_Case", 1),
			want:     `metadata.name: Invalid value: "Invalid_Case": a lowercase RFC 1123 subdomain must consist of`,
		},
		{
			name:     "a label value longer than a label holds",
			manifest: strings.Replace(validIstio, "name: invalid-case", "name: invalid-case\n  labels:\n    team: "+strings.Repeat("t", 64), 1),
			want:     "must be no more than 63 bytes",
		},
		{
			name:     "an unknown spec field",
			manifest: validIstio + "\n  meshConfig:\n    accessLogFile: /dev/stdout",
			want:     `unknown field "spec.meshConfig"`,
		},
		{
			name:     "CNI values on an Istio, where IstioCNI owns them",
			manifest: validIstio + "\n  values:\n    cni:\n      enabled: true",
			want:     `unknown field "spec.values.cni"`,
		},
		{
			name:     "a values section that is not an object",
			manifest: validIstio + "\n  values:\n    pilot: enabled",
			want:     `spec.values.pilot: Invalid value: "string": spec.values.pilot in body must be of type object`,
		},
		{
			name:     "a ZTunnel tag target of the wrong kind",
			manifest: "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  targetRef:\n    kind: IstioCNI\n    name: default",
			want:     `spec.targetRef.kind: Unsupported value: "IstioCNI"`,
		},
		{
			name:     "a targetRef on a v1alpha1 ZTunnel, which only v1 has",
			manifest: "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  targetRef:\n    kind: Istio\n    name: default",
			want:     `unknown field "spec.targetRef"`,
		},
		{
			name:     "a profile on a v1 ZTunnel, which only v1alpha1 has",
			manifest: "apiVersion: sailoperator.io/v1\nkind: ZTunnel\nmetadata:\n  name: default\nspec:\n  profile: ambient",
			want:     `unknown field "spec.profile"`,
		},
	}
}
