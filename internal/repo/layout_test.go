package repo

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRootIsTheFolderOfBosunsModuleLine: Root stops only at a go.mod whose module is exactly bosun's,
// passing modules whose path merely starts with it, wherever the walk starts below it.
func TestRootIsTheFolderOfBosunsModuleLine(t *testing.T) {
	top := t.TempDir()
	for path, content := range map[string]string{
		"go.mod":                       "\n\nmodule github.com/bosun-mesh/bosun\n\ngo 1.24\n",
		"tools/go.mod":                 "module github.com/bosun-mesh/bosun-tools\n\ngo 1.24\n",
		"tools/nested/go.mod":          "module github.com/bosun-mesh/bosun/tools/nested\n\ngo 1.24\n",
		"tools/nested/deeper/.keep":    "",
		"tools/nested/deeper/go.mod.x": "module github.com/bosun-mesh/bosun\n",
	} {
		p := filepath.Join(top, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, start := range []string{"", "tools", "tools/nested", "tools/nested/deeper"} {
		t.Run("from "+start, func(t *testing.T) {
			t.Chdir(filepath.Join(top, filepath.FromSlash(start)))
			if got, err := Root(); err != nil || got != top {
				t.Errorf("Root() = %q, %v; want %s", got, err, top)
			}
		})
	}
}

// TestBosunIsBuiltAsTheProgramsAre: the Makefile's BOSUN_BUILD uses the environment and flags the
// cluster's programs and istiod are built with, so that a fresh make demo compiles the packages they
// share once rather than twice.
func TestBosunIsBuiltAsTheProgramsAre(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^BOSUN_BUILD\s*:?=\s*(.*)$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile defines no BOSUN_BUILD")
	}
	words := strings.Fields(string(m[1]))
	i := slices.Index(words, "build")
	if i < 1 || words[i-1] != "go" {
		t.Fatalf("BOSUN_BUILD = %q, want go build with its environment before it", m[1])
	}
	if env := words[:i-1]; !slices.Equal(env, ProgramEnv) {
		t.Errorf("BOSUN_BUILD's environment is %q, the programs' %q", env, ProgramEnv)
	}
	if flags := words[i+1:]; !slices.Equal(flags, ProgramBuildFlags) {
		t.Errorf("BOSUN_BUILD's flags are %q, the programs' %q", flags, ProgramBuildFlags)
	}
	if !slices.Contains(ProgramBuildFlags, "-gcflags="+ProgramGCFlags) {
		t.Errorf("the programs' flags %q do not pass ProgramGCFlags %q", ProgramBuildFlags, ProgramGCFlags)
	}
}

// TestPilotDiscoveryLayout: istiod of a version is bin/istiod/<version>/pilot-discovery, where
// hack/istiodbins writes it and the demo and the cluster in a box look for it.
func TestPilotDiscoveryLayout(t *testing.T) {
	got := PilotDiscovery(filepath.Join("bin", "istiod"), "v1.27.0-snapshot.b9159ca3")
	if want := filepath.Join("bin", "istiod", "v1.27.0-snapshot.b9159ca3", "pilot-discovery"); got != want {
		t.Errorf("PilotDiscovery = %s, want %s", got, want)
	}
}

// TestReadmeListsEveryMakeTarget: the README's "Make targets" names every target `make help` shows.
func TestReadmeListsEveryMakeTarget(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(readme), "\n## Make targets\n")
	if !found {
		t.Fatal(`README.md has no "## Make targets" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	targets := regexp.MustCompile(`(?m)^([a-z][a-z-]*):[^#\n]*##`).FindAllStringSubmatch(string(makefile), -1)
	if len(targets) < 10 {
		t.Fatalf("found %d documented targets in the Makefile, want them all", len(targets))
	}
	for _, m := range targets {
		if !strings.Contains(section, "`"+m[1]+"`") && !strings.Contains(section, "`make "+m[1]+"`") {
			t.Errorf("README.md's Make targets do not mention `%s`", m[1])
		}
	}
}

// TestDocLinksPointAtSections: every link from the code and docs to a section of a document of docs/
// (the document's path or name, '#', the section's anchor) names a section that exists there, so that a comment's pointer to
// the lesson it guards never dangles.
func TestDocLinksPointAtSections(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`(?m)^#+ (.*?)(?: \{#([a-z0-9-]+)\})?\s*$`)
	anchors := map[string]map[string]bool{}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		for _, m := range heading.FindAllStringSubmatch(string(data), -1) {
			if m[2] != "" {
				set[m[2]] = true
			}
			set[slug(m[1])] = true
		}
		anchors[filepath.Base(doc)] = set
	}
	link := regexp.MustCompile(`(docs/)?\b([a-z-]+\.md)#([a-z0-9-]+)`)
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if slices.Contains([]string{".git", "bin", "resources", "node_modules"}, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".md") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		inDocs := filepath.Dir(rel) == "docs"
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			set, ok := anchors[m[2]]
			switch {
			case !ok && (m[1] != "" || inDocs):
				t.Errorf("%s links to %s#%s, and docs/ has no %s", rel, m[2], m[3], m[2])
			case ok && !set[m[3]]:
				t.Errorf("%s links to %s#%s, which has no such section", rel, m[2], m[3])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// slug is the anchor a Markdown renderer gives a heading: lower case, punctuation dropped, spaces as
// hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}
