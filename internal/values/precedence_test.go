package values

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// The precedence tests give two neighbouring layers of one pipeline the same key with different
// values, each value naming its layer, and assert that the higher layer's value is the one rendered.
// Swapping any two layers in a pipeline turns at least one case red.
//
// The platform layer is special: it sets global.platform only when no other layer does (a profile
// that names its own platform, or a user who names theirs, is kept). Its cases assert that rule,
// from both sides.

// layerProfiles are profiles whose every value names the profile it comes from.
func layerProfiles() Profiles {
	return Profiles{Version: "v1.27.0", FS: fstest.MapFS{
		"profiles/default.yaml": {Data: []byte(`spec:
  values:
    revision: default profile
    defaultRevision: default profile
    logLevel: default profile
    global:
      meshID: default profile
      istioNamespace: default profile
`)},
		"profiles/chosen.yaml":       {Data: []byte("spec:\n  values:\n    global:\n      meshID: chosen profile\n")},
		"profiles/ambient.yaml":      {Data: []byte("spec:\n  values:\n    logLevel: ambient profile\n    global:\n      meshID: ambient profile\n")},
		"profiles/own-platform.yaml": {Data: []byte("spec:\n  values:\n    global:\n      meshID: own-platform profile\n      platform: profile's platform\n")},
	}}
}

// absent asserts that a path has no value.
type absentValue struct{}

var absent absentValue

// precedenceCase is one pair of neighbouring layers: want maps dotted paths of the result to the
// value of the layer that must win.
type precedenceCase[In any] struct {
	name string
	in   In
	want map[string]any
}

func checkPaths(t *testing.T, got Map, want map[string]any) {
	t.Helper()
	for path, w := range want {
		v, ok := Get(got, strings.Split(path, ".")...)
		if w == absent {
			if ok {
				t.Errorf("%s = %v, want it unset", path, v)
			}
			continue
		}
		if !reflect.DeepEqual(v, w) {
			t.Errorf("%s = %v, want %v", path, v, w)
		}
	}
}

func TestControlPlanePrecedence(t *testing.T) {
	cases := []precedenceCase[ControlPlaneInput]{
		{
			name: "the chosen profile over the default profile",
			in:   ControlPlaneInput{Profile: "chosen", Platform: Kubernetes},
			want: map[string]any{"global.meshID": "chosen profile"},
		},
		{
			name: "the platform over the profile, where the profile leaves global.platform unset",
			in:   ControlPlaneInput{Profile: "chosen", Platform: OpenShift},
			want: map[string]any{"global.platform": "openshift", "global.meshID": "chosen profile"},
		},
		{
			name: "a profile's own platform is kept",
			in:   ControlPlaneInput{Profile: "own-platform", Platform: OpenShift},
			want: map[string]any{"global.platform": "profile's platform"},
		},
		{
			name: "the user over the platform",
			in:   ControlPlaneInput{Profile: "own-platform", Platform: OpenShift, User: Map{"global": Map{"platform": "user's platform"}}},
			want: map[string]any{"global.platform": "user's platform"},
		},
		{
			name: "the user over the profile",
			in:   ControlPlaneInput{Profile: "chosen", Platform: OpenShift, User: Map{"global": Map{"meshID": "user"}}},
			want: map[string]any{"global.meshID": "user", "global.platform": "openshift"},
		},
		{
			name: "the forced fields over the user",
			in: ControlPlaneInput{Profile: "chosen", Platform: Kubernetes, User: Map{
				"revision": "user", "defaultRevision": "user", "global": Map{"istioNamespace": "user", "meshID": "user"}}},
			want: map[string]any{"revision": "prod", "global.istioNamespace": "mesh", "defaultRevision": absent, "global.meshID": "user"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Profiles, tc.in.Revision, tc.in.Namespace = layerProfiles(), "prod", "mesh"
			got, err := ControlPlane(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			checkPaths(t, got, tc.want)
		})
	}
}

func TestCNIPrecedence(t *testing.T) {
	cases := []precedenceCase[CNIInput]{
		{
			name: "the chosen profile over the default profile",
			in:   CNIInput{Profile: "chosen", Platform: Kubernetes},
			want: map[string]any{"global.meshID": "chosen profile"},
		},
		{
			name: "the platform over the profile, where the profile leaves global.platform unset",
			in:   CNIInput{Profile: "chosen", Platform: OpenShift},
			want: map[string]any{"global.platform": "openshift"},
		},
		{
			name: "a profile's own platform is kept",
			in:   CNIInput{Profile: "own-platform", Platform: OpenShift},
			want: map[string]any{"global.platform": "profile's platform"},
		},
		{
			name: "the user over the platform",
			in:   CNIInput{Profile: "own-platform", Platform: OpenShift, User: Map{"global": Map{"platform": "user's platform"}}},
			want: map[string]any{"global.platform": "user's platform"},
		},
		{
			name: "the user over the profile",
			in:   CNIInput{Profile: "chosen", Platform: OpenShift, User: Map{"global": Map{"meshID": "user"}}},
			want: map[string]any{"global.meshID": "user", "global.platform": "openshift"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Profiles = layerProfiles()
			got, err := CNI(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			checkPaths(t, got, tc.want)
		})
	}
}

func TestZTunnelPrecedence(t *testing.T) {
	revision := Map{"revision": "prod", "global": Map{"meshID": "revision"}}
	cases := []precedenceCase[ZTunnelInput]{
		{
			name: "the ambient profile over the default profile",
			in:   ZTunnelInput{Platform: Kubernetes},
			want: map[string]any{"global.meshID": "ambient profile", "logLevel": "ambient profile"},
		},
		{
			name: "the target revision over the profile",
			in:   ZTunnelInput{Platform: Kubernetes, Revision: revision},
			want: map[string]any{"global.meshID": "revision", "revision": "prod"},
		},
		{
			name: "the platform over the revision, where the revision leaves global.platform unset",
			in:   ZTunnelInput{Platform: OpenShift, Revision: revision},
			want: map[string]any{"global.platform": "openshift", "global.meshID": "revision"},
		},
		{
			name: "the revision's own platform is kept",
			in:   ZTunnelInput{Platform: OpenShift, Revision: Map{"global": Map{"platform": "revision's platform"}}},
			want: map[string]any{"global.platform": "revision's platform"},
		},
		{
			name: "the user over the platform",
			in:   ZTunnelInput{Platform: OpenShift, User: Map{"global": Map{"platform": "user's platform"}}},
			want: map[string]any{"global.platform": "user's platform"},
		},
		{
			name: "the user over the revision",
			in:   ZTunnelInput{Platform: OpenShift, Revision: revision, User: Map{"global": Map{"meshID": "user"}}},
			want: map[string]any{"global.meshID": "user", "global.platform": "openshift"},
		},
		{
			// The chart reads ztunnel's settings at the top level: the user's ztunnel section must
			// reach it over what the profile put there.
			name: "the user's ztunnel section over the top level",
			in:   ZTunnelInput{Platform: Kubernetes, Revision: revision, User: Map{"ztunnel": Map{"logLevel": "user's ztunnel section"}}},
			want: map[string]any{"logLevel": "user's ztunnel section"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Profiles = layerProfiles()
			got, err := ZTunnel(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			checkPaths(t, got, tc.want)
		})
	}
}
