package demo

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// TestUpdateTargetChoices: among the versions an InPlace Istio accepts, a newer one wins over an older
// one as near, and a version of the same minor is suggested by name; other majors are never suggested,
// and a mesh on a version the catalog no longer has still gets a suggestion.
func TestUpdateTargetChoices(t *testing.T) {
	all := func(string) bool { return true }
	cat, err := catalog.Parse([]byte(`default: v1.27-latest
versions:
  - {name: v2.0.0, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.28.1, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.27.3, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.27.2, module: istio.io/istio, moduleVersion: v0.0.0-x}
  - {name: v1.26.4, module: istio.io/istio, moduleVersion: v0.0.0-x}
aliases:
  - {name: v1.27-latest, ref: v1.27.3}
  - {name: v1.28-latest, ref: v1.28.1}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, current string
		hasIstiod     func(string) bool
		want          Update
	}{
		{name: "newer beats older at the same distance", current: "v1.27.3", hasIstiod: all,
			want: Update{Version: "v1.28-latest", Istiod: true}},
		{name: "a built older one beats an unbuilt newer one", current: "v1.27.3", hasIstiod: func(v string) bool { return v == "v1.26.4" },
			want: Update{Version: "v1.26.4", Istiod: true}},
		{name: "the same minor: the newest build of it, by its alias", current: "v1.27.2", hasIstiod: func(v string) bool { return v == "v1.27.3" },
			want: Update{Version: "v1.27-latest", Istiod: true}},
		{name: "a version the catalog dropped", current: "v1.25.9", hasIstiod: all,
			want: Update{Version: "v1.26.4", Istiod: true}},
		{name: "never another major", current: "v2.0.0", hasIstiod: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UpdateTarget(cat, tt.current, tt.hasIstiod); got != tt.want {
				t.Errorf("UpdateTarget(%s) = %+v, want %+v", tt.current, got, tt.want)
			}
		})
	}
}

// TestNextUpdateHints: the hints give the commands of the update they suggest, the way around a
// refusal only when bosun will refuse it, the warning about a fake istiod only when there is one, and
// no update at all when there is none to suggest.
func TestNextUpdateHints(t *testing.T) {
	patch := `kubectl patch istio default --type merge -p '{"spec":{"version":"v1.28-latest"}}'`
	cases := []struct {
		name         string
		update       Update
		want, absent []string
	}{
		{name: "accepted, istiod built", update: Update{Version: "v1.28-latest", Istiod: true},
			want: []string{
				"Update the mesh from v1.27-latest to v1.28-latest (InPlace",
				patch,
				`kubectl patch istiocni default --type merge -p '{"spec":{"version":"v1.28-latest"}}'`,
				"kubectl rollout restart deployment -n bookinfo",
			},
			absent: []string{"allow-minor-version-skip", "refused", "no pilot-discovery build"}},
		{name: "refused", update: Update{Version: "v1.28-latest", Refused: true, Istiod: true},
			want:   []string{patch, "# refused: more than one minor version", "kubectl annotate istio default bosun.dev/allow-minor-version-skip=true"},
			absent: []string{"no pilot-discovery build"}},
		{name: "no istiod", update: Update{Version: "v1.28-latest"},
			want: []string{patch, "(v1.28-latest has no pilot-discovery build here", "make istiod-bins"}},
		{name: "no update", want: []string{"export KUBECONFIG=/box/kubeconfig", "Logs are in /box"},
			absent: []string{"Update the mesh", "kubectl patch", "rollout restart"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			Next{Kubeconfig: "/box/kubeconfig", BinDir: "/repo/bin/cluster", LogDir: "/box",
				Version: Version{Name: "v1.27-latest"}, Update: tc.update}.Write(&out)
			for _, s := range tc.want {
				if !strings.Contains(out.String(), s) {
					t.Errorf("the hints do not say %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(out.String(), s) {
					t.Errorf("the hints say %q:\n%s", s, out.String())
				}
			}
		})
	}
}
