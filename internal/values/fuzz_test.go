package values

import (
	"encoding/json"
	"reflect"
	"testing"
	"testing/fstest"
)

var fuzzSeeds = []string{
	`{}`,
	`{"global":{"hub":"a","tag":"1"}}`,
	`{"pilot":{"env":{"A":"1"},"resources":{"requests":{"cpu":"1"}}},"meshConfig":{"discoverySelectors":[{"matchLabels":{"a":"b"}}]}}`,
	`{"revision":"x","defaultRevision":"y","global":{"istioNamespace":"other"}}`,
	`{"global":null,"pilot":[1,2],"profile":"ambient"}`,
	`{"a":{"b":{"c":{"d":[{"e":1}]}}}}`,
}

func decodeMap(t *testing.T, s string) (Map, bool) {
	var m Map
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

// FuzzMergeNothing: merging nothing, or an empty map, changes nothing, and Merge never changes its
// inputs.
func FuzzMergeNothing(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := decodeMap(t, s)
		if !ok {
			return
		}
		before := DeepCopy(m)
		for _, got := range []Map{Merge(m), Merge(m, Map{}), Merge(m, nil), Merge(Map{}, m)} {
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("merging nothing changed %v into %v", m, got)
			}
		}
		if !reflect.DeepEqual(m, before) {
			t.Fatalf("Merge changed its input")
		}
	})
}

// FuzzUserBeatsProfile: every value the user sets is in the result as the user set it, whatever the
// profile says; lists replace, never merge.
func FuzzUserBeatsProfile(f *testing.F) {
	for _, a := range fuzzSeeds {
		for _, b := range fuzzSeeds {
			f.Add(a, b)
		}
	}
	f.Fuzz(func(t *testing.T, profileText, userText string) {
		profile, ok1 := decodeMap(t, profileText)
		user, ok2 := decodeMap(t, userText)
		if !ok1 || !ok2 {
			return
		}
		got := Merge(profile, user)
		checkLeaves(t, user, got, "")
	})
}

func checkLeaves(t *testing.T, user, got Map, prefix string) {
	t.Helper()
	for k, uv := range user {
		gv := got[k]
		if um, ok := uv.(Map); ok {
			gm, ok := gv.(Map)
			if !ok {
				t.Fatalf("%s%s: the user's map became %v", prefix, k, gv)
			}
			checkLeaves(t, um, gm, prefix+k+".")
			continue
		}
		if !reflect.DeepEqual(uv, gv) {
			t.Fatalf("%s%s = %v, want the user's %v", prefix, k, gv, uv)
		}
	}
}

// FuzzForcedFieldsWin: whatever the profile and the user say, a control plane's revision, namespace
// and defaultRevision are bosun's.
func FuzzForcedFieldsWin(f *testing.F) {
	for _, a := range fuzzSeeds {
		f.Add(a, a, "prod")
		f.Add(a, `{"revision":"evil"}`, "default")
	}
	f.Fuzz(func(t *testing.T, profileText, userText, revision string) {
		profile, ok1 := decodeMap(t, profileText)
		user, ok2 := decodeMap(t, userText)
		if !ok1 || !ok2 || revision == "" {
			return
		}
		preset, _ := json.Marshal(Map{"spec": Map{"values": profile}})
		profiles := Profiles{Version: "test", FS: fstest.MapFS{"profiles/default.yaml": {Data: preset}}}
		got, err := ControlPlane(ControlPlaneInput{Profiles: profiles, User: user, Revision: revision, Namespace: "mesh-ns"})
		if err != nil {
			t.Fatal(err)
		}
		wantRevision := revision
		if revision == "default" {
			wantRevision = ""
		}
		if got["revision"] != wantRevision {
			t.Fatalf("revision = %v, want %q", got["revision"], wantRevision)
		}
		if ns, _ := Get(got, "global", "istioNamespace"); ns != "mesh-ns" {
			t.Fatalf("global.istioNamespace = %v, want mesh-ns", ns)
		}
		if _, ok := got["defaultRevision"]; ok {
			t.Fatalf("defaultRevision survived: %v", got["defaultRevision"])
		}
	})
}
