package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const testProto = `syntax = "proto3";
package istio.operator.v1alpha1;
import "google/protobuf/wrappers.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/struct.proto";

// Outer is a test message.
// +protobuf=true
message Outer {
  // Exactly one way to say it.
  oneof kind {
    string a = 1;
    string b = 2;
  }
  // An optional scalar makes a synthetic oneof, which is no rule.
  optional string c = 3;
  google.protobuf.BoolValue d = 4;
  repeated uint32 e = 5;
  map<string, string> labels = 6;
  Inner inner = 7;
  google.protobuf.Duration wait = 8;
  google.protobuf.Struct affinity = 9;
  google.protobuf.Struct unknownShape = 10;
  string proxy_init = 11 [json_name = "proxy_init"];
  Mode mode = 12;
  message Inner {
    // The first line
    // and the second line of one paragraph.
    //
    // - an item
    // - another item
    int32 x = 1;
  }
  enum Mode {
    OFF = 0;
    ON = 1;
  }
}
`

func compileTest(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(map[string]string{"test.proto": testProto}),
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := c.Compile(context.Background(), "test.proto")
	if err != nil {
		t.Fatal(err)
	}
	return files[0].Messages().ByName("Outer")
}

func TestGeneratedStruct(t *testing.T) {
	g := newGenerator()
	name := g.message(compileTest(t))
	src, err := g.source("test")
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	text := string(src)
	for _, want := range []string{
		"type " + name + " struct",
		`// +kubebuilder:validation:XValidation:rule="(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) <= 1",message="at most one of a, b may be set"`,
		"D *bool `json:\"d,omitempty\"`",
		"// +kubebuilder:validation:items:Minimum=0",
		"E []int64 `json:\"e,omitzero\"`",
		"Labels map[string]string `json:\"labels,omitzero\"`",
		"Wait *metav1.Duration `json:\"wait,omitempty\"`",
		"Affinity *corev1.Affinity `json:\"affinity,omitempty\"`",
		"UnknownShape *apiextensionsv1.JSON `json:\"unknownShape,omitempty\"`",
		"ProxyInit *string `json:\"proxy_init,omitempty\"`",
		"// +kubebuilder:validation:Enum=OFF;ON",
		"Mode *OuterMode `json:\"mode,omitempty\"`",
		"// The first line and the second line of one paragraph.\n\t//\n\t// - an item\n\t// - another item\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the generated code lacks %q", want)
		}
	}
	if strings.Contains(text, "has(self.c)") {
		t.Errorf("a proto3 optional field became a oneof rule")
	}
	if strings.Contains(text, "+protobuf=true") {
		t.Errorf("a directive of Istio's tools leaked into a comment, where controller-gen would read it as a marker")
	}
}

func TestTypeNamesDoNotCollide(t *testing.T) {
	g := newGenerator()
	md := compileTest(t)
	g.taken["OuterInner"] = "somewhere.else.OuterInner"
	inner := md.Messages().ByName("Inner")
	if got := g.typeName(inner); got == "OuterInner" {
		t.Errorf("a taken name was reused: %s", got)
	}
	if got := g.typeName(md); got != "Outer" {
		t.Errorf("Outer became %s", got)
	}
}

func TestExported(t *testing.T) {
	for in, want := range map[string]string{"proxy_init": "ProxyInit", "meshMTLS": "MeshMTLS", "istio-ingressgateway": "IstioIngressgateway"} {
		if got := exported(in); got != want {
			t.Errorf("exported(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSameMinor(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/VERSION", "1.31\n"); err != nil {
		t.Fatal(err)
	}
	if err := sameMinor(dir, "istio.io/api@v1.31.1"); err != nil {
		t.Errorf("same minor refused: %v", err)
	}
	if err := sameMinor(dir, "istio.io/api@v1.30.2"); err == nil || !strings.Contains(err.Error(), "move apiModule to a 1.31 release") {
		t.Errorf("another minor gave %v", err)
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }
