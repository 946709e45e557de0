package values

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/charts/chartstest"
)

// notTyped lists the keys Istio's charts and profiles use that bosun's typed values leave out on
// purpose, each with the reason. Everything else must survive a trip through the typed values: a typed
// API must never drop a user's or a preset's setting in silence.
var notTyped = map[string]string{
	"cni":          "the CNI node agent is configured through IstioCNI",
	"istio_cni":    "the CNI node agent is configured through IstioCNI",
	"ztunnel":      "ztunnel is configured through ZTunnel",
	"gateways":     "bosun does not deploy gateways; they are deployed with applications",
	"revisionTags": "revision tags are IstioRevisionTag resources",
	"ownerName":    "bosun sets ownership itself",
}

// TestTypedValuesRoundTrip decodes every chart's default values and every profile's presets, for every
// catalog version, into the typed values of the kind that passes them, encodes them again, and
// requires every key back.
func TestTypedValuesRoundTrip(t *testing.T) {
	resources := chartstest.Dir(t)
	for _, v := range catalog.Embedded().Versions() {
		dir := filepath.Join(resources, v.Name)
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("no charts for %s: run make charts", v.Name)
		}
		t.Run(v.Name, func(t *testing.T) {
			// The istiod and base charts read pilot's settings at the top level; in an Istio they are
			// under pilot. The other top-level keys are the Values' own.
			for _, chart := range []string{"istiod", "base"} {
				defaults := chartDefaults(t, dir, chart)
				asValues := Map{}
				for k, val := range defaults {
					if _, skip := notTyped[k]; skip {
						continue
					}
					if isValuesKey(k) {
						asValues[k] = val
					} else {
						Set(asValues, val, "pilot", k)
					}
				}
				roundTrip(t, chart+" chart defaults", asValues, &v1.Values{})
			}
			// The cni chart reads the cni section at the top level, beside global.
			cni := chartDefaults(t, dir, "cni")
			cniValues := Map{"global": cni["global"]}
			for k, val := range cni {
				if k != "global" && k != "ownerName" {
					Set(cniValues, val, "cni", k)
				}
			}
			roundTrip(t, "cni chart defaults", cniValues, &v1.CNIValues{})
			// The ztunnel chart reads its settings at the top level, beside global.
			zt := chartDefaults(t, dir, "ztunnel")
			ztValues := Map{}
			if g, ok := zt["global"]; ok {
				ztValues["global"] = g
				delete(zt, "global")
			}
			ztValues["ztunnel"] = zt
			roundTrip(t, "ztunnel chart defaults", ztValues, &v1.ZTunnelValues{})

			profiles := Profiles{FS: os.DirFS(dir), Version: v.Name}
			names, err := profiles.Names()
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range names {
				preset, err := profiles.Values(name)
				if err != nil {
					t.Fatal(err)
				}
				for k := range notTyped {
					delete(preset, k)
				}
				roundTrip(t, "profile "+name, preset, &v1.Values{})
			}
		})
	}
}

func isValuesKey(k string) bool {
	typ := reflect.TypeOf(v1.Values{})
	for i := range typ.NumField() {
		if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name == k {
			return true
		}
	}
	return false
}

// chartDefaults reads a chart's defaults, which Istio's charts keep under _internal_defaults_do_not_set.
func chartDefaults(t *testing.T, dir, chart string) Map {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "charts", chart, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m Map
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	d, ok := m["_internal_defaults_do_not_set"].(Map)
	if !ok {
		t.Fatalf("%s chart has no _internal_defaults_do_not_set", chart)
	}
	return d
}

// roundTrip decodes in into typed, strictly, encodes it again and compares the leaves.
func roundTrip(t *testing.T, what string, in Map, typed any) {
	t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	// A lenient decode, so that every lost key is listed below, not only the first unknown one.
	if err := json.Unmarshal(data, typed); err != nil {
		t.Errorf("%s do not decode into %T: %v", what, typed, err)
		return
	}
	out, err := FromObject(typed)
	if err != nil {
		t.Fatal(err)
	}
	if lost := missing(in, out, ""); len(lost) > 0 {
		sort.Strings(lost)
		t.Errorf("%s lose keys in %T: %s", what, typed, strings.Join(lost, ", "))
	}
}

// missing lists the leaf paths of want that got does not have with the same value.
func missing(want, got Map, prefix string) []string {
	var out []string
	for k, wv := range want {
		p := prefix + k
		gv, ok := got[k]
		wm, wIsMap := wv.(Map)
		gm, gIsMap := gv.(Map)
		switch {
		case wIsMap && len(wm) == 0 && !isExplicit(gv, ok):
			// An empty section the typed values leave out loses nothing: it sets nothing.
		case wIsMap && gIsMap:
			out = append(out, missing(wm, gm, p+".")...)
		case !ok || !reflect.DeepEqual(normalise(wv), normalise(gv)) && !sameDuration(wv, gv):
			out = append(out, p)
		}
	}
	return out
}

// normalise makes JSON numbers comparable with YAML-decoded ones.
func normalise(v any) any {
	data, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}

// isExplicit reports whether got kept a value, so an empty map in want must match it exactly.
func isExplicit(got any, ok bool) bool {
	return ok && got != nil
}

// sameDuration accepts a duration written another way: the typed values write "30m" back as "30m0s".
func sameDuration(a, b any) bool {
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if !ok1 || !ok2 {
		return false
	}
	ad, err1 := time.ParseDuration(as)
	bd, err2 := time.ParseDuration(bs)
	return err1 == nil && err2 == nil && ad == bd
}
