package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The box has no chart of an Istio release, only the snapshots the catalog fetches. Tests that need
// two patch versions of one minor, as OpenShift Service Mesh's procedures name them (v1.24.3 and
// v1.24.4), play them with copies of one snapshot's charts whose images carry the played version's tag:
// what bosun does with a version (revision names, rollouts, pruning) depends on its name and charts,
// not on what its images contain.
const (
	// PlayedBy is the snapshot whose charts play other versions.
	PlayedBy = "v1.25.0-snapshot.be4b14ad"
	// PlayedByModule is its module version, for test catalogs.
	PlayedByModule = "v0.0.0-20250322053744-be4b14ad8be8"
)

// PlayVersions writes into dir, for each version, a copy of PlayedBy's charts and profiles from the
// fetched resources folder, with the charts' image tag set to the version's number.
func PlayVersions(fetched, dir string, versions ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, v := range versions {
		dst := filepath.Join(dir, v)
		if out, err := exec.Command("cp", "-r", filepath.Join(fetched, PlayedBy), dst).CombinedOutput(); err != nil {
			return fmt.Errorf("copying the charts of %s (run make charts): %v: %s", PlayedBy, err, out)
		}
		matches, err := filepath.Glob(filepath.Join(dst, "charts", "*", "values.yaml"))
		if err != nil {
			return err
		}
		for _, f := range matches {
			data, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			// The tag sits at the global level of most charts, at the top level of ztunnel's.
			tagged := string(data)
			for _, indent := range []string{"    ", "  "} {
				tagged = strings.ReplaceAll(tagged, "\n"+indent+"tag: latest\n", "\n"+indent+"tag: "+strings.TrimPrefix(v, "v")+"\n")
			}
			if err := os.WriteFile(f, []byte(tagged), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
