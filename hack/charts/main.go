// Command charts fetches the Istio charts and profiles of every version in bosun's catalog into
// resources/<version>/ (ignored by git), as `make charts` runs it from the repository root:
//
//	go run ./hack/charts [-versions-file FILE] [-out resources]
//
// A version whose charts come from a Go module is fetched with `go mod download`, so it goes through
// the module proxy and checksum database like any dependency; its manifests/charts and
// manifests/profiles folders are copied. A version with release chart URLs has each .tgz downloaded and
// unpacked. A version already fetched from the same source (the module's sum, or the URLs) is skipped.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

func main() {
	versionsFile := flag.String("versions-file", "", "catalog to read instead of the built-in one (also "+catalog.EnvFile+")")
	out := flag.String("out", "resources", "folder to write <version>/charts and <version>/profiles into")
	flag.Parse()

	cat, err := catalog.Load(*versionsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "charts:", err)
		os.Exit(1)
	}
	f := &fetcher{out: *out, log: os.Stdout}
	for _, v := range cat.Versions() {
		if err := f.fetch(v); err != nil {
			fmt.Fprintf(os.Stderr, "charts: %s: %v\n", v.Name, err)
			os.Exit(1)
		}
	}
}
