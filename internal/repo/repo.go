// Package repo locates bosun's repository and says how the programs that are built into it from other
// projects' modules (the cluster in a box's programs and istiod, by hack/clusterbins and
// hack/istiodbins) are compiled and laid out. It imports only the standard library, so the builders
// in hack/ that use it compile in a second: make demo runs them beside bosun's own compile.
package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Root walks up from the working directory to the directory whose go.mod declares bosun's module.
// Nested modules (hack/clusterbins/programs, hack/tools) are passed by.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(data) == module {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bosun's go.mod not found above the working directory; run from the repository")
		}
		dir = parent
	}
}

// module is bosun's module path.
const module = "github.com/bosun-mesh/bosun"

// modulePath is the path a go.mod's module directive declares, as the go command reads it: comments
// aside, quoted or not; "" when there is none.
func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || fields[0] != "module" {
			continue
		}
		if path, err := strconv.Unquote(fields[1]); err == nil {
			return path
		}
		return fields[1]
	}
	return ""
}

// ProgramGCFlags are the compiler flags of the programs built from other projects' modules: no DWARF
// debug information, which their linker flags (-s -w) throw away anyway. Not generating it costs
// about 15% less CPU time, a minute or two of a fresh machine's make demo and make test on two cores.
const ProgramGCFlags = "all=-dwarf=false"

// ProgramEnv is added to the go command's environment for those programs: static binaries, as
// Kubernetes' and Istio's release builds are, that need no C toolchain.
var ProgramEnv = []string{"CGO_ENABLED=0"}

// ProgramBuildFlags are go build's flags for those programs, before their own linker flags.
// The Makefile builds bosun with the same environment and flags (BOSUN_BUILD), so that in a fresh
// make demo the packages bosun shares with the cluster's programs compile once.
var ProgramBuildFlags = []string{"-trimpath", "-gcflags=" + ProgramGCFlags}

// PilotDiscovery is where istiod's program for a catalog version is built, under dir (bin/istiod).
func PilotDiscovery(dir, version string) string {
	return filepath.Join(dir, version, "pilot-discovery")
}
