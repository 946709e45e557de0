// Command valuesgen writes api/v1/values_types.gen.go: Go types for Istio's Helm values, generated
// from Istio's own protobuf definitions with their comments, so that the CRDs document and validate
// spec.values exactly as Istio defines it. `make generate` runs it from the repository root:
//
//	go run ./hack/valuesgen -out api/v1/values_types.gen.go
//
// Sources, at the newest version in bosun's catalog (internal/catalog/versions.yaml):
//   - istio.io/istio's operator/pkg/apis/values_types.proto: global, pilot, telemetry,
//     sidecarInjectorWebhook, base, istiodRemote and cni;
//   - istio.io/api's mesh/v1alpha1 (MeshConfig, ProxyConfig, networks) and the networking and type
//     messages they use: meshConfig.
//
// Translation: proto3 scalars and wrapper types become pointers, so that an unset value stays unset
// and never overrides a chart default; Duration becomes metav1.Duration; enums become string types
// with their values enumerated; a oneof becomes a CEL rule allowing at most one of its fields;
// google.protobuf.Struct fields become the Kubernetes types they hold (see structTypes), and whatever
// Istio leaves open (Struct without a known type, Value, Any) stays schemaless.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"golang.org/x/mod/semver"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/gomod"
)

// apiModule is where the mesh config definitions come from. istio.io/istio at the newest catalog
// version requires an istio.io/api pseudo-version the module proxy does not serve; v1.31.1 is the
// release of the same minor. run refuses an api module of another minor than the istio one.
const apiModule = "istio.io/api@v1.31.1"

func main() {
	out := flag.String("out", "api/v1/values_types.gen.go", "file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "valuesgen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	istioModule, err := newestIstio(catalog.Embedded())
	if err != nil {
		return err
	}
	istio, err := gomod.Download("", istioModule)
	if err != nil {
		return err
	}
	api, err := gomod.Download("", apiModule)
	if err != nil {
		return err
	}
	istioDir, apiDir := istio.Dir, api.Dir
	if err := sameMinor(istioDir, apiModule); err != nil {
		return err
	}
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{istioDir, apiDir, filepath.Join(apiDir, "common-protos")},
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := compiler.Compile(context.Background(), "operator/pkg/apis/values_types.proto", "mesh/v1alpha1/config.proto")
	if err != nil {
		return err
	}
	g := newGenerator()
	// The extra types below use these whatever the definitions need.
	g.needs["intstr"], g.needs["metav1"] = true, true
	values := files[0].Messages()
	for _, root := range []string{"GlobalConfig", "PilotConfig", "TelemetryConfig", "SidecarInjectorConfig", "BaseConfig", "IstiodRemoteConfig", "CNIConfig"} {
		md := values.ByName(protoreflect.Name(root))
		if md == nil {
			return fmt.Errorf("values_types.proto has no message %s", root)
		}
		g.message(md)
	}
	g.message(files[1].Messages().ByName("MeshConfig"))
	src, err := g.source(istioModule + ", " + apiModule)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// generator collects Go declarations for messages and enums, each once.
type generator struct {
	names    map[protoreflect.FullName]string // message or enum → Go type name
	taken    map[string]protoreflect.FullName
	decls    map[string]string // Go type name → declaration
	order    []string
	visiting map[protoreflect.FullName]bool
	needs    map[string]bool // imports
}

func newGenerator() *generator {
	g := &generator{
		names:    map[protoreflect.FullName]string{},
		taken:    map[string]protoreflect.FullName{},
		decls:    map[string]string{},
		visiting: map[protoreflect.FullName]bool{},
		needs:    map[string]bool{},
	}
	// Names the hand-written API already uses.
	for _, n := range []string{"Values", "CNIValues", "ZTunnelValues", "ZTunnelConfig", "CNIGlobalConfig", "ZTunnelGlobalConfig",
		"Istio", "IstioSpec", "IstioStatus", "IstioRevision", "IstioRevisionTag", "IstioCNI", "ZTunnel", "TargetReference", "RevisionSummary"} {
		g.taken[n] = "bosun"
	}
	return g
}

// packagePrefix tells apart messages of the same name from different proto packages.
var packagePrefix = map[protoreflect.FullName]string{
	"istio.operator.v1alpha1":   "",
	"istio.mesh.v1alpha1":       "Mesh",
	"istio.networking.v1alpha3": "Networking",
	"istio.networking.v1beta1":  "NetworkingV1beta1",
	"istio.type.v1beta1":        "Type",
}

// typeName is the Go name of a message or enum: nested names joined, and a package prefix when the
// plain name is taken.
func (g *generator) typeName(d protoreflect.Descriptor) string {
	if n, ok := g.names[d.FullName()]; ok {
		return n
	}
	var parts []string
	for p := d; ; p = p.Parent() {
		if _, isFile := p.(protoreflect.FileDescriptor); isFile {
			break
		}
		parts = append([]string{exported(string(p.Name()))}, parts...)
	}
	name := strings.Join(parts, "")
	if owner, ok := g.taken[name]; ok && owner != d.FullName() {
		name = packagePrefix[d.ParentFile().Package()] + name
		if owner, ok := g.taken[name]; ok && owner != d.FullName() {
			name = exported(strings.ReplaceAll(string(d.ParentFile().Package()), ".", "_")) + name
		}
	}
	g.names[d.FullName()] = name
	g.taken[name] = d.FullName()
	return name
}

// message declares a struct for md and everything it refers to, and returns its Go name.
func (g *generator) message(md protoreflect.MessageDescriptor) string {
	name := g.typeName(md)
	if _, done := g.decls[name]; done || g.visiting[md.FullName()] {
		return name
	}
	g.visiting[md.FullName()] = true
	defer delete(g.visiting, md.FullName())

	var b strings.Builder
	writeDoc(&b, "", comment(md), name+" is Istio's "+string(md.FullName())+".")
	for _, rule := range oneofRules(md) {
		fmt.Fprintf(&b, "// +kubebuilder:validation:XValidation:rule=%q,message=%q\n", rule[0], rule[1])
	}
	fmt.Fprintf(&b, "type %s struct {\n", name)
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		goType, markers := g.fieldType(md, f)
		if goType == "" {
			continue
		}
		jsonName := jsonName(f)
		doc := comment(f)
		if opts, ok := f.Options().(interface{ GetDeprecated() bool }); ok && opts.GetDeprecated() {
			doc = strings.TrimSpace(doc + "\n\nDeprecated: Istio marks this field deprecated.")
		}
		writeDoc(&b, "\t", doc, "")
		b.WriteString("\t// +optional\n")
		for _, m := range markers {
			fmt.Fprintf(&b, "\t// %s\n", m)
		}
		fmt.Fprintf(&b, "\t%s %s `json:\"%s,%s\"`\n\n", exported(jsonName), goType, jsonName, omit(goType))
	}
	for _, x := range extraFields[string(md.Name())] {
		writeDoc(&b, "\t", x.doc+"\n\nIstio's charts read this value; its protobuf definitions do not declare it yet.", "")
		b.WriteString("\t// +optional\n")
		for _, m := range x.markers {
			fmt.Fprintf(&b, "\t// %s\n", m)
		}
		for _, imp := range x.imports {
			g.needs[imp] = true
		}
		fmt.Fprintf(&b, "\t%s %s `json:\"%s,%s\"`\n\n", exported(x.json), x.goType, x.json, omit(x.goType))
	}
	b.WriteString("}\n")
	g.decls[name] = b.String()
	g.order = append(g.order, name)
	return name
}

// jsonName is the key Helm values use: the field's JSON name, which is lowerCamelCase unless the
// definition names it otherwise (proxy_init keeps its underscore).
func jsonName(f protoreflect.FieldDescriptor) string {
	return f.JSONName()
}

// skippedFields are value keys that other bosun kinds own or that bosun sets itself.
var skippedFields = map[string]bool{
	"CNIConfig.enabled":  true, // an IstioCNI resource is what enables the CNI
	"CNIConfig.logLevel": true, // replaced by global.logging in Istio's charts
}

// fieldType is the Go type of a field and its extra kubebuilder markers, or "" to leave it out.
func (g *generator) fieldType(parent protoreflect.MessageDescriptor, f protoreflect.FieldDescriptor) (string, []string) {
	if skippedFields[string(parent.Name())+"."+string(f.Name())] {
		return "", nil
	}
	if f.IsMap() {
		// Bounds of map values have no marker; the API server still checks the type.
		elem, _ := g.singular(parent, f.MapValue(), true)
		return "map[string]" + strings.TrimPrefix(elem, "*"), nil
	}
	if f.IsList() {
		if f.Kind() == protoreflect.MessageKind && f.Message().FullName() == "google.protobuf.Struct" {
			if t, ok := structTypes[jsonName(f)]; ok && strings.HasPrefix(t, "[]") {
				g.noteImport(t)
				return t, nil
			}
		}
		elem, markers := g.singular(parent, f, true)
		for i, m := range markers {
			markers[i] = strings.Replace(m, "+kubebuilder:validation:", "+kubebuilder:validation:items:", 1)
		}
		var extra []string
		if f.Kind() == protoreflect.MessageKind && g.hasRules(f.Message()) {
			// CEL rules on list items cost per item; a bound keeps the API server's estimate finite.
			extra = append(extra, "+kubebuilder:validation:MaxItems=1000")
		}
		return "[]" + strings.TrimPrefix(elem, "*"), append(markers, extra...)
	}
	return g.singular(parent, f, false)
}

// singular is the Go type of one value of a field (a list item or map value when inList).
func (g *generator) singular(parent protoreflect.MessageDescriptor, f protoreflect.FieldDescriptor, inList bool) (string, []string) {
	switch f.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "*string", nil
	case protoreflect.BoolKind:
		return "*bool", nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "*int32", nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "*int64", []string{"+kubebuilder:validation:Minimum=0", "+kubebuilder:validation:Maximum=4294967295"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "*int64", nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "*int64", []string{"+kubebuilder:validation:Minimum=0"}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "*float64", nil
	case protoreflect.EnumKind:
		return "*" + g.enum(f.Enum()), nil
	}
	md := f.Message()
	switch md.FullName() {
	case "google.protobuf.BoolValue":
		return "*bool", nil
	case "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return "*string", nil
	case "google.protobuf.Int32Value":
		return "*int32", nil
	case "google.protobuf.UInt32Value":
		return "*int64", []string{"+kubebuilder:validation:Minimum=0", "+kubebuilder:validation:Maximum=4294967295"}
	case "google.protobuf.Int64Value", "google.protobuf.UInt64Value":
		return "*int64", nil
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue":
		return "*float64", nil
	case "google.protobuf.Duration":
		g.needs["metav1"] = true
		return "*metav1.Duration", nil
	case "google.protobuf.Struct":
		if t, ok := structTypes[jsonName(f)]; ok && !strings.HasPrefix(t, "[]") {
			g.noteImport(t)
			return t, nil
		}
		g.needs["apiextensionsv1"] = true
		return "*apiextensionsv1.JSON", []string{"+kubebuilder:validation:Type=object", "+kubebuilder:pruning:PreserveUnknownFields"}
	case "google.protobuf.Value", "google.protobuf.Any", "google.protobuf.ListValue":
		g.needs["apiextensionsv1"] = true
		return "*apiextensionsv1.JSON", []string{"+kubebuilder:validation:Schemaless", "+kubebuilder:pruning:PreserveUnknownFields"}
	case "istio.operator.v1alpha1.IntOrString":
		g.needs["intstr"] = true
		return "*intstr.IntOrString", nil
	case "istio.mesh.v1alpha1.LabelSelector":
		// bosun's own LabelSelector (api/v1/selector_types.go): metav1.LabelSelector's JSON form with a
		// schema that refuses what istiod could not parse.
		return "*LabelSelector", nil
	}
	if g.visiting[md.FullName()] {
		// A message that contains itself cannot be a CRD schema; keep the recursion schemaless.
		g.needs["apiextensionsv1"] = true
		return "*apiextensionsv1.JSON", []string{"+kubebuilder:validation:Type=object", "+kubebuilder:pruning:PreserveUnknownFields"}
	}
	return "*" + g.message(md), nil
}

// structTypes are the Kubernetes types that Istio's google.protobuf.Struct fields hold, by value key.
var structTypes = map[string]string{
	"affinity":                  "*corev1.Affinity",
	"tolerations":               "[]corev1.Toleration",
	"toleration":                "[]corev1.Toleration",
	"defaultTolerations":        "[]corev1.Toleration",
	"nodeSelector":              "map[string]string",
	"defaultNodeSelector":       "map[string]string",
	"podAnnotations":            "map[string]string",
	"podLabels":                 "map[string]string",
	"deploymentLabels":          "map[string]string",
	"daemonSetLabels":           "map[string]string",
	"serviceAnnotations":        "map[string]string",
	"serviceAccountAnnotations": "map[string]string",
	"injectedAnnotations":       "map[string]string",
	"annotations":               "map[string]string",
	"labels":                    "map[string]string",
	"env":                       "map[string]string",
	"templates":                 "map[string]string",
	"autoscaleBehavior":         "*autoscalingv2.HorizontalPodAutoscalerBehavior",
	"topologySpreadConstraints": "[]corev1.TopologySpreadConstraint",
	"volumes":                   "[]corev1.Volume",
	"volumeMounts":              "[]corev1.VolumeMount",
	"envVarFrom":                "[]corev1.EnvVar",
	"seccompProfile":            "*corev1.SeccompProfile",
	"lifecycle":                 "*corev1.Lifecycle",
	"neverInjectSelector":       "[]LabelSelector",
	"alwaysInjectSelector":      "[]LabelSelector",
	"extraContainerArgs":        "[]string",
	"additionalContainers":      "[]corev1.Container",
	"configVolumes":             "[]corev1.Volume",
	"resources":                 "*corev1.ResourceRequirements",
}

func (g *generator) noteImport(t string) {
	for _, pkg := range []string{"corev1", "metav1", "autoscalingv2"} {
		if strings.Contains(t, pkg+".") {
			g.needs[pkg] = true
		}
	}
}

// enum declares a string type whose values are the enum's names.
func (g *generator) enum(ed protoreflect.EnumDescriptor) string {
	name := g.typeName(ed)
	if _, done := g.decls[name]; done {
		return name
	}
	var values []string
	for i := range ed.Values().Len() {
		values = append(values, string(ed.Values().Get(i).Name()))
	}
	var b strings.Builder
	writeDoc(&b, "", comment(ed), name+" is Istio's "+string(ed.FullName())+".")
	fmt.Fprintf(&b, "// +kubebuilder:validation:Enum=%s\n", strings.Join(values, ";"))
	fmt.Fprintf(&b, "type %s string\n", name)
	g.decls[name] = b.String()
	g.order = append(g.order, name)
	return name
}

// hasRules reports whether a message or any message inside it carries a CEL rule.
func (g *generator) hasRules(md protoreflect.MessageDescriptor) bool {
	seen := map[protoreflect.FullName]bool{}
	var walk func(protoreflect.MessageDescriptor) bool
	walk = func(m protoreflect.MessageDescriptor) bool {
		if seen[m.FullName()] {
			return false
		}
		seen[m.FullName()] = true
		if len(oneofRules(m)) > 0 {
			return true
		}
		for i := range m.Fields().Len() {
			f := m.Fields().Get(i)
			if f.Kind() == protoreflect.MessageKind && !strings.HasPrefix(string(f.Message().FullName()), "google.protobuf.") && walk(f.Message()) {
				return true
			}
		}
		return false
	}
	return walk(md)
}

// oneofRules are the CEL rules (rule, message) that allow at most one field of each real oneof.
func oneofRules(md protoreflect.MessageDescriptor) [][2]string {
	var rules [][2]string
	for i := range md.Oneofs().Len() {
		o := md.Oneofs().Get(i)
		if o.IsSynthetic() {
			continue
		}
		var terms, names []string
		for j := range o.Fields().Len() {
			n := jsonName(o.Fields().Get(j))
			terms = append(terms, fmt.Sprintf("(has(self.%s) ? 1 : 0)", n))
			names = append(names, n)
		}
		if len(names) < 2 {
			continue
		}
		rules = append(rules, [2]string{
			strings.Join(terms, " + ") + " <= 1",
			"at most one of " + strings.Join(names, ", ") + " may be set",
		})
	}
	return rules
}

// comment is the leading comment of a declaration, without the lines that are directives for
// Istio's own tools.
func comment(d protoreflect.Descriptor) string {
	loc := d.ParentFile().SourceLocations().ByDescriptor(d)
	var keep []string
	for _, line := range strings.Split(loc.LeadingComments, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "$hide_from_docs") || strings.HasPrefix(t, "+") || strings.HasPrefix(t, "$") {
			continue
		}
		keep = append(keep, strings.TrimRight(line, " \t"))
	}
	return reflow(strings.TrimSpace(strings.Join(keep, "\n")))
}

// reflow joins the lines of each paragraph, so that `kubectl explain` wraps the text itself instead of
// breaking it where the proto file did. Code blocks and list items keep their lines.
func reflow(text string) string {
	var out []string
	inCode := false
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") {
			inCode = !inCode
			out = append(out, line)
			continue
		}
		joinable := !inCode && t != "" && !startsItem(t) && !strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "\t")
		if n := len(out); joinable && n > 0 {
			prev := out[n-1]
			pt := strings.TrimSpace(prev)
			if pt != "" && !strings.HasPrefix(pt, "```") && !isCodeLine(prev) {
				out[n-1] = strings.TrimRight(prev, " ") + " " + t
				continue
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func startsItem(t string) bool {
	if strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* ") || strings.HasPrefix(t, "|") || strings.HasPrefix(t, "#") {
		return true
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	return i > 0 && i < len(t) && (t[i] == '.' || t[i] == ')')
}

// isCodeLine reports an indented line, which is code or a nested list item and is not joined onto.
func isCodeLine(line string) bool {
	return strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "\t")
}

// writeDoc writes a Go comment; lines that could be read as markers or end a comment are defused.
func writeDoc(b *strings.Builder, indent, text, fallback string) {
	if text == "" {
		text = fallback
	}
	if text == "" {
		return
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.ReplaceAll(line, "*/", "* /")
		if strings.HasPrefix(strings.TrimSpace(line), "+") {
			line = " " + strings.TrimSpace(line)
		}
		if strings.TrimSpace(line) == "" {
			fmt.Fprintf(b, "%s//\n", indent)
			continue
		}
		fmt.Fprintf(b, "%s// %s\n", indent, strings.TrimPrefix(line, " "))
	}
}

// exported makes a Go identifier from a proto name: proxy_init → ProxyInit, meshMTLS → MeshMTLS.
func exported(s string) string {
	var b strings.Builder
	upper := true
	for _, r := range s {
		if r == '_' || r == '-' || r == '.' {
			upper = true
			continue
		}
		if upper && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		upper = false
		b.WriteRune(r)
	}
	return b.String()
}

// source is the Go file of every declaration; from names the definitions' modules.
func (g *generator) source(from string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by hack/valuesgen from Istio's protobuf definitions (" + from + "). DO NOT EDIT.\n\npackage v1\n\nimport (\n")
	imports := map[string]string{
		"apiextensionsv1": `apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"`,
		"appsv1":          `appsv1 "k8s.io/api/apps/v1"`,
		"autoscalingv2":   `autoscalingv2 "k8s.io/api/autoscaling/v2"`,
		"corev1":          `corev1 "k8s.io/api/core/v1"`,
		"intstr":          `"k8s.io/apimachinery/pkg/util/intstr"`,
		"metav1":          `metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"`,
	}
	var keys []string
	for k := range g.needs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\t%s\n", imports[k])
	}
	b.WriteString(")\n\n")
	b.WriteString(extraTypes)
	b.WriteString("\n")
	names := append([]string(nil), g.order...)
	sort.Strings(names)
	for _, n := range names {
		b.WriteString(g.decls[n])
		b.WriteString("\n")
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return b.Bytes(), fmt.Errorf("formatting the generated code: %w", err)
	}
	return src, nil
}

// newestIstio returns module@version of the newest catalog version whose charts come from
// istio.io/istio, so the types never lag the newest charts bosun installs.
func newestIstio(c *catalog.Catalog) (string, error) {
	for _, v := range c.Versions() { // newest first
		if v.Module == "istio.io/istio" {
			return v.Module + "@" + v.ModuleVersion, nil
		}
	}
	return "", fmt.Errorf("the catalog has no version from istio.io/istio")
}

// sameMinor refuses mesh definitions of another minor version than Istio's (its VERSION file), which
// would type meshConfig from an older or newer API than the charts read.
func sameMinor(istioDir, apiModule string) error {
	data, err := os.ReadFile(filepath.Join(istioDir, "VERSION"))
	if err != nil {
		return fmt.Errorf("reading Istio's VERSION: %w", err)
	}
	istioMinor := strings.TrimSpace(string(data))
	_, apiVersion, _ := strings.Cut(apiModule, "@")
	if apiMinor := strings.TrimPrefix(semver.MajorMinor(apiVersion), "v"); apiMinor != istioMinor {
		return fmt.Errorf("%s is Istio %s, but the newest catalog version is Istio %s: move apiModule to a %s release", apiModule, apiMinor, istioMinor, istioMinor)
	}
	return nil
}

// omit is the JSON omission of a field: lists and maps are left out only when unset (nil), so that a
// user's explicit [] or {} reaches the chart and replaces its default; everything else is a pointer
// and is left out when nil.
func omit(goType string) string {
	if strings.HasPrefix(goType, "[]") || strings.HasPrefix(goType, "map[") {
		return "omitzero"
	}
	return "omitempty"
}
