package migrate

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/bosun-mesh/bosun/internal/migrate/maistra"
)

// silentAlone are the fields that, set alone, rightly leave no trace: they only qualify a sibling
// that the conversion reports or carries.
var silentAlone = map[string]string{
	"spec.gateways.enabled":                          "true is 2.6's default; the gateways it turns on are listed under ingress, egress and the additional ones",
	"spec.policy.type":                               "the sample value is no Mixer type: Istiod and None need nothing",
	"spec.telemetry.type":                            "as spec.policy.type",
	"spec.security.identity.type":                    "ThirdParty needs nothing; Kubernetes is reported",
	"spec.security.certificateAuthority.istiod.type": "SelfSigned needs nothing; PrivateKey is reported",
	"spec.proxy.networking.initialization.type":      "CNI needs nothing; InitContainer is reported",
	"spec.gateways.ingress.routerMode":               "standard needs nothing; sni-dnat is reported",
	"spec.gateways.ingress.ingress":                  "an ingress gateway's own switch for 2.0's Ingress support, which 3.x gateways serve anyway",
}

// TestEveryFieldLeavesATrace sets each field bosun reads, one at a time, and requires the conversion
// to carry it (a Mapping from it or from a field above it) or report it (a Finding about it or a field
// above it): no setting of a ServiceMeshControlPlane disappears without a word.
func TestEveryFieldLeavesATrace(t *testing.T) {
	for _, path := range leafPaths(reflect.TypeFor[maistra.ControlPlaneSpec](), "spec") {
		t.Run(path.path, func(t *testing.T) {
			spec := map[string]any{"version": "v2.6", "mode": "ClusterWide"}
			put(spec, strings.Split(strings.TrimPrefix(path.path, "spec."), "."), path.sample)
			in, err := maistra.Decode([]*unstructured.Unstructured{{Object: map[string]any{
				"apiVersion": "maistra.io/v2", "kind": "ServiceMeshControlPlane",
				"metadata": map[string]any{"name": "basic", "namespace": "istio-system"}, "spec": spec,
			}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Unknown) > 0 {
				t.Fatalf("the sample is not read: %v", in.Unknown)
			}
			res, err := Convert(in.ControlPlanes[0], nil, nil, nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			covers := func(field string) bool {
				field, _, _ = strings.Cut(field, " ")
				return path.path == field || strings.HasPrefix(path.path, field+".") || strings.HasPrefix(field, path.path)
			}
			for _, m := range res.Mapped {
				if covers(m.From) {
					return
				}
			}
			for _, f := range res.Findings {
				if covers(f.Field) {
					return
				}
			}
			if why, ok := silentAlone[path.path]; ok {
				// Leaving no trace is right for this field: the test passes, and says why.
				t.Logf("no trace, rightly: %s", why)
				return
			}
			t.Errorf("set alone to %v, %s is neither carried nor reported", path.sample, path.path)
		})
	}
}

// leaf is a field to set, and a value that sets it.
type leaf struct {
	path   string
	sample any
}

func (l leaf) String() string { return l.path }

// leafPaths lists the fields of t (bosun's own types, walked; others set as a whole), with map
// fields entered under one sample key.
func leafPaths(t reflect.Type, prefix string) []leaf {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []leaf
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name == "" {
			if ours(ft) {
				out = append(out, leafPaths(ft, prefix)...)
			} else {
				// Kubernetes' ServiceSpec, inline in a gateway's service: its type stands for all.
				out = append(out, leaf{prefix + ".type", "NodePort"})
			}
			continue
		}
		path := prefix + "." + name
		switch {
		case ft.Kind() == reflect.Struct && ours(ft):
			out = append(out, leafPaths(ft, path)...)
		case ft.Kind() == reflect.Map && ours(elem(ft.Elem())) && elem(ft.Elem()).Kind() == reflect.Struct:
			key := "extra"
			if name == "components" {
				key = "pilot"
			}
			out = append(out, leafPaths(elem(ft.Elem()), path+"."+key)...)
		default:
			out = append(out, leaf{path, sample(ft)})
		}
	}
	return out
}

func ours(t reflect.Type) bool {
	return t.PkgPath() == reflect.TypeFor[maistra.ControlPlane]().PkgPath()
}

func elem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// sample is a value of the type that is not its zero value.
func sample(t reflect.Type) any {
	switch t.Kind() {
	case reflect.String:
		return "x"
	case reflect.Bool:
		return true
	case reflect.Int32, reflect.Int64, reflect.Int:
		return int64(7)
	case reflect.Slice:
		switch e := elem(t.Elem()); {
		case e.Kind() == reflect.String:
			return []any{"x"}
		case e.Kind() == reflect.Int32:
			return []any{int64(7)}
		case e.Name() == "LabelSelector":
			return []any{map[string]any{"matchLabels": map[string]any{"a": "b"}}}
		case e.Name() == "Toleration":
			return []any{map[string]any{"key": "k", "operator": "Exists"}}
		case e.Name() == "ServicePort":
			return []any{map[string]any{"name": "http", "port": int64(80)}}
		case e.Name() == "LocalObjectReference":
			return []any{map[string]any{"name": "pull"}}
		default:
			return []any{map[string]any{"name": "x"}}
		}
	case reflect.Map:
		return map[string]any{"k": "v"}
	case reflect.Struct:
		if t.Name() == "ResourceRequirements" {
			return map[string]any{"requests": map[string]any{"cpu": "1"}}
		}
		return map[string]any{}
	}
	return map[string]any{"k": "v"}
}
