package repo

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestArchitectureMapMatchesTheTree: docs/architecture.md's package table names every package of the
// API, the charts' CRDs, config, internal/ and samples/, each once, and says exactly which of bosun's
// packages each imports (the API types aside): a row of several packages lists what they import
// between them, and none imports more.
func TestArchitectureMapMatchesTheTree(t *testing.T) {
	rows := packageTable(t)
	imports := bosunImports(t)
	mapped := map[string]bool{}
	for _, row := range rows {
		var union []string
		for _, pkg := range row.packages {
			got, ok := imports[pkg]
			if !ok {
				t.Errorf("docs/architecture.md maps %s, which is no package of the tree", pkg)
				continue
			}
			if mapped[pkg] {
				t.Errorf("docs/architecture.md maps %s twice", pkg)
			}
			mapped[pkg] = true
			for _, imp := range got {
				if !slices.Contains(row.imports, imp) {
					t.Errorf("%s imports %s, which docs/architecture.md does not list for it", pkg, imp)
				}
				union = append(union, imp)
			}
		}
		for _, listed := range row.imports {
			if !slices.Contains(union, listed) {
				t.Errorf("docs/architecture.md says %s imports %s; none does", strings.Join(row.packages, ", "), listed)
			}
		}
	}
	for pkg := range imports {
		if !mapped[pkg] && !atTheEdge(pkg) {
			t.Errorf("%s is missing from docs/architecture.md's package table", pkg)
		}
	}
}

// atTheEdge are the packages the table leaves out: commands and the test packages.
func atTheEdge(pkg string) bool {
	for _, edge := range []string{"cmd/", "hack/", "test/"} {
		if strings.HasPrefix(pkg, edge) {
			return true
		}
	}
	return false
}

type tableRow struct{ packages, imports []string }

// packageTable reads the rows of the table under "## Packages" in docs/architecture.md: the packages
// of the first column and the imports of the last, each a code span ("—" for none); a code span in
// parentheses is a remark.
func packageTable(t *testing.T) []tableRow {
	t.Helper()
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(page), "\n## Packages\n")
	if !found {
		t.Fatal(`docs/architecture.md has no "## Packages" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	code := regexp.MustCompile("`([^`]+)`")
	remark := regexp.MustCompile(`\([^)]*\)`)
	spans := func(cell string) []string {
		var out []string
		for _, m := range code.FindAllStringSubmatch(remark.ReplaceAllString(cell, ""), -1) {
			out = append(out, m[1])
		}
		return out
	}
	var rows []tableRow
	for line := range strings.Lines(section) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows = append(rows, tableRow{packages: spans(cells[1]), imports: spans(cells[3])})
	}
	if len(rows) < 10 {
		t.Fatalf("read %d rows of docs/architecture.md's package table, want the whole table", len(rows))
	}
	return rows
}

// bosunImports lists the module's packages with `go list`, each with the packages of bosun it imports
// (tests aside), the API types aside.
func bosunImports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...")
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	imports := map[string][]string{}
	lines := bufio.NewScanner(bytes.NewReader(out))
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		pkg := strings.TrimPrefix(fields[0], module+"/")
		imports[pkg] = nil
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok && !strings.HasPrefix(rel, "api/") {
				imports[pkg] = append(imports[pkg], rel)
			}
		}
	}
	return imports
}
