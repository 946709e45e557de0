// Command krew writes the krew plugin manifest of `kubectl bosun`: for each release archive of the
// kubectl-bosun binary (dist/kubectl-bosun_<os>_<arch>.tar.gz, made by `make krew`), the platform it
// runs on, where the release serves it, and its SHA-256, which krew checks before it installs.
//
// Usage: go run ./hack/krew -version v0.1.0 -url https://github.com/bosun-mesh/bosun/releases/download/v0.1.0 -dist dist
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"sigs.k8s.io/yaml"
)

func main() {
	version := flag.String("version", "", "the release's version, such as v0.1.0")
	url := flag.String("url", "", "where the release serves its archives")
	dist := flag.String("dist", "dist", "folder of the archives")
	out := flag.String("o", "", "file to write (default: standard output)")
	flag.Parse()
	manifest, err := Manifest(*version, *url, *dist)
	if err == nil {
		if *out == "" {
			_, err = os.Stdout.Write(manifest)
		} else {
			err = os.WriteFile(*out, manifest, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		os.Exit(1)
	}
}

// archiveName is the name of a release archive: kubectl-bosun_<os>_<arch>.tar.gz.
var archiveName = regexp.MustCompile(`^kubectl-bosun_([a-z0-9]+)_([a-z0-9]+)\.tar\.gz$`)

// Manifest is the krew Plugin for the archives in dist.
func Manifest(version, url, dist string) ([]byte, error) {
	if version == "" || url == "" {
		return nil, fmt.Errorf("give -version and -url")
	}
	entries, err := os.ReadDir(dist)
	if err != nil {
		return nil, err
	}
	var platforms []map[string]any
	for _, e := range entries {
		m := archiveName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		sum, err := sha256File(filepath.Join(dist, e.Name()))
		if err != nil {
			return nil, err
		}
		bin := "kubectl-bosun"
		if m[1] == "windows" {
			bin += ".exe"
		}
		platforms = append(platforms, map[string]any{
			"selector": map[string]any{"matchLabels": map[string]string{"os": m[1], "arch": m[2]}},
			"uri":      url + "/" + e.Name(),
			"sha256":   sum,
			"bin":      bin,
			"files":    []map[string]string{{"from": bin, "to": "."}},
		})
	}
	if len(platforms) == 0 {
		return nil, fmt.Errorf("no kubectl-bosun_<os>_<arch>.tar.gz in %s: run make krew", dist)
	}
	slices.SortFunc(platforms, func(a, b map[string]any) int {
		ua, ub := a["uri"].(string), b["uri"].(string)
		if ua < ub {
			return -1
		}
		if ua > ub {
			return 1
		}
		return 0
	})
	return yaml.Marshal(map[string]any{
		"apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
		"kind":       "Plugin",
		"metadata":   map[string]string{"name": "bosun"},
		"spec": map[string]any{
			"version":          version,
			"homepage":         "https://github.com/bosun-mesh/bosun",
			"shortDescription": "See an Istio mesh that bosun manages: what runs on which revision",
			"description": "kubectl bosun status shows each Istio with its migration, each revision with the namespaces " +
				"and workloads that use it and their proxy versions, and the workloads due for a restart, with the " +
				"command that moves each. It reads metadata only.",
			"platforms": platforms,
		},
	})
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
