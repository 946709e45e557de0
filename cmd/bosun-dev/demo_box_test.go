//go:build e2e

package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/demo"
	"github.com/bosun-mesh/bosun/internal/testcluster"
)

// TestDemo runs `bosun-dev demo` as make demo does: the operator's pod is played by bosun-operator
// built from this tree, the demo ends with Istio Healthy and bookinfo's pods injected, the hints give
// a KUBECONFIG, and Ctrl-C removes the cluster's files.
func TestDemo(t *testing.T) { // The demo builds the default version's istiod when it is missing, which takes minutes: the
	// test expects it built, as make test builds it (make test-bins).
	istiodDir, err := testcluster.IstiodBinDir(testcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.Embedded()
	def, err := cat.Resolve(cat.Default())
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := demo.IstiodReady(istiodDir, def.Name, nil); !ok {
		t.Fatalf("the catalog's default %s has no istiod in %s (%s): run make test-bins first", def.Name, istiodDir, why)
	}
	dc := startDevCluster(t, "demo", "--nodes", "1", "--operator-binary", operatorBinary(t))
	dc.waitFor(regexp.MustCompile(`Press Ctrl-C`), 5*time.Minute)
	shown := dc.out.String()
	var missing []string
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`played by bosun-operator \(pid \d+`),
		regexp.MustCompile(`(?m)^istio\.sailoperator\.io/default +1 +1 +1 +default +Healthy `),
		regexp.MustCompile(`(?m)^productpage-v1-\S+ +Running +\S+ +productpage,istio-proxy +default$`),
	} {
		if !want.MatchString(shown) {
			missing = append(missing, want.String())
		}
	}
	if len(missing) > 0 {
		t.Errorf("the demo printed nothing like:\n  %s\nIt printed:\n%s", strings.Join(missing, "\n  "), shown)
	}
	m := kubeconfigLine.FindStringSubmatch(shown)
	if m == nil {
		t.Fatalf("the demo printed no KUBECONFIG:\n%s", shown)
	}
	kubeconfig := m[1]

	dc.interrupt()
	if _, err := os.Stat(filepath.Dir(kubeconfig)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's directory is still there after Ctrl-C: %v", err)
	}
}
