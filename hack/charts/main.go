// Command charts fetches the Istio charts and profiles of every version in bosun's catalog into
// resources/<version>/ (ignored by git), as `make charts` runs it from the repository root:
//
//	go run ./hack/charts [-versions-file FILE] [-out resources]
//
// internal/charts says how each version is fetched.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/charts"
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
	f := &charts.Fetcher{Out: *out, Log: os.Stdout}
	for _, v := range cat.Versions() {
		if err := f.Fetch(v); err != nil {
			fmt.Fprintf(os.Stderr, "charts: %s: %v\n", v.Name, err)
			os.Exit(1)
		}
	}
}
