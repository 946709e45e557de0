package values

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func testProfiles() Profiles {
	return Profiles{Version: "v1.27.0", FS: fstest.MapFS{
		"profiles/default.yaml":   {Data: []byte("spec:\n  values:\n    defaultRevision: \"\"\n    global:\n      istioNamespace: istio-system\n      configValidation: true\n    gateways:\n      istio-ingressgateway: {}\n    ztunnel:\n      resourceName: ztunnel\n")},
		"profiles/ambient.yaml":   {Data: []byte("spec:\n  values:\n    profile: ambient\n")},
		"profiles/openshift.yaml": {Data: []byte("spec:\n  values:\n    global:\n      platform: openshift\n")},
		"profiles/demo.yaml":      {Data: []byte("spec:\n  meshConfig:\n    accessLogFile: /dev/stdout\n  values:\n    profile: demo\n")},
	}}
}

func TestControlPlane(t *testing.T) {
	cases := []struct {
		name string
		in   ControlPlaneInput
		want Map
	}{
		{
			name: "default profile on Kubernetes",
			in:   ControlPlaneInput{Platform: Kubernetes, Revision: "default", Namespace: "istio-system"},
			want: Map{"revision": "", "global": Map{"istioNamespace": "istio-system", "configValidation": true}},
		},
		{
			name: "OpenShift picks the openshift profile",
			in:   ControlPlaneInput{Platform: OpenShift, Revision: "prod", Namespace: "mesh"},
			want: Map{"revision": "prod", "global": Map{"istioNamespace": "mesh", "configValidation": true, "platform": "openshift"}},
		},
		{
			name: "a chosen profile on OpenShift still gets the platform",
			in:   ControlPlaneInput{Platform: OpenShift, Profile: "ambient", Revision: "prod", Namespace: "mesh"},
			want: Map{"revision": "prod", "profile": "ambient", "global": Map{"istioNamespace": "mesh", "configValidation": true, "platform": "openshift"}},
		},
		{
			name: "the user's platform is kept",
			in:   ControlPlaneInput{Platform: OpenShift, Profile: "ambient", User: Map{"global": Map{"platform": "gke"}}, Revision: "prod", Namespace: "mesh"},
			want: Map{"revision": "prod", "profile": "ambient", "global": Map{"istioNamespace": "mesh", "configValidation": true, "platform": "gke"}},
		},
		{
			name: "profile meshConfig lands in values.meshConfig; the user's wins key by key",
			in: ControlPlaneInput{Platform: Kubernetes, Profile: "demo", Revision: "prod", Namespace: "mesh",
				User: Map{"meshConfig": Map{"enableTracing": true}, "defaultRevision": "prod"}},
			want: Map{"revision": "prod", "profile": "demo",
				"meshConfig": Map{"accessLogFile": "/dev/stdout", "enableTracing": true},
				"global":     Map{"istioNamespace": "mesh", "configValidation": true}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Profiles = testProfiles()
			got, err := ControlPlane(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestUnshippedProfileIsRefused(t *testing.T) {
	_, err := ControlPlane(ControlPlaneInput{Profiles: testProfiles(), Profile: "external", Revision: "x", Namespace: "y"})
	var notShipped *ProfileNotShippedError
	if !errors.As(err, &notShipped) {
		t.Fatalf("error = %v, want ProfileNotShippedError", err)
	}
	const want = `Istio v1.27.0 does not ship the profile "external"; set spec.profile to one of: ambient, default, demo, openshift`
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}
}

func TestZTunnelTakesTheRevisionsSharedValues(t *testing.T) {
	got, err := ZTunnel(ZTunnelInput{
		Profiles: testProfiles(),
		Platform: Kubernetes,
		Revision: Map{"global": Map{"meshID": "m1"}, "meshConfig": Map{"trustDomain": "td"}, "revision": "prod", "pilot": Map{"x": 1}},
		User:     Map{"ztunnel": Map{"terminationGracePeriodSeconds": 300}, "global": Map{"meshID": "m2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]any{
		"profile":                               "ambient",
		"revision":                              "prod",
		"meshConfig.trustDomain":                "td",
		"global.meshID":                         "m2", // the user's beats the revision's
		"terminationGracePeriodSeconds":         300,  // the chart reads it at the top level
		"ztunnel.terminationGracePeriodSeconds": 300,
		"resourceName":                          "ztunnel",
	}
	for path, want := range checks {
		if v, _ := Get(got, strings.Split(path, ".")...); v != want {
			t.Errorf("%s = %v, want %v", path, v, want)
		}
	}
	if _, ok := got["pilot"]; ok {
		t.Errorf("pilot values of the revision leaked into ztunnel's")
	}
}

func TestValuesProfileMustBeAChartPreset(t *testing.T) {
	profiles := testProfiles()
	fsys := profiles.FS.(fstest.MapFS)
	fsys["charts/istiod/files/profile-ambient.yaml"] = &fstest.MapFile{Data: []byte("{}")}
	fsys["charts/istiod/files/profile-platform-openshift.yaml"] = &fstest.MapFile{Data: []byte("{}")}
	in := func(profile string) ControlPlaneInput {
		return ControlPlaneInput{Profiles: profiles, Revision: "x", Namespace: "y", User: Map{"profile": profile}}
	}
	got, err := ControlPlane(in("default"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["profile"]; ok {
		t.Errorf("values.profile: default reached the chart, which has no such preset and fails")
	}
	if _, err := ControlPlane(in("ambient")); err != nil {
		t.Errorf("values.profile: ambient refused: %v", err)
	}
	_, err = ControlPlane(in("openshift"))
	const want = `Istio v1.27.0 does not ship the profile "openshift"; set spec.values.profile to one of: ambient`
	if err == nil || err.Error() != want {
		t.Errorf("values.profile: openshift gave %v, want %q", err, want)
	}
}
