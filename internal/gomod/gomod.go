// Package gomod fetches Go modules with the go command, through the module proxy and checksum
// database like any dependency: the way bosun's generators and fetchers get Istio's sources and the
// cluster's programs.
package gomod

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Module is a downloaded module version.
type Module struct {
	Path    string
	Version string
	// Dir is the module's source folder in the module cache (read-only).
	Dir string
	// Sum is the module's checksum, as go.sum records it.
	Sum string
}

// Download runs `go mod download -json query` in dir ("" for the working directory), where query is
// module@version, or a module path that dir's go.mod resolves to a version. Workspaces are ignored,
// so the result depends on dir's go.mod alone.
func Download(dir, query string) (Module, error) {
	cmd := exec.Command("go", "mod", "download", "-json", query)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct {
		Module
		Error string
	}
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return Module{}, fmt.Errorf("go mod download %s: %s", query, info.Error)
	}
	if err != nil {
		return Module{}, fmt.Errorf("go mod download %s: %w: %s", query, err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return Module{}, fmt.Errorf("go mod download %s gave no folder", query)
	}
	return info.Module, nil
}

// Prefetch downloads into the module cache every module that building pkgs in dir's module needs,
// and builds nothing: `go list -deps` loads the packages as go build would, outside any workspace
// (GOWORK=off), with env added to the go command's environment (build tags and CGO_ENABLED decide
// which files, so which imports, count).
// A build started later finds them there; make demo downloads this way while it compiles bosun.
func Prefetch(dir string, env []string, pkgs ...string) error {
	cmd := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("downloading what %s needs: %w: %s", strings.Join(pkgs, " "), err, Reason(stderr.String()))
	}
	return nil
}

// Reason picks, from the go command's output, the distinct lines that carry an error, so that a
// failed download or build is reported in a line or two.
func Reason(output string) string {
	var lines []string
	for line := range strings.Lines(output) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "go: downloading") || strings.HasSuffix(line, " imports") || strings.HasPrefix(line, "go: finding") {
			continue
		}
		if i := strings.LastIndex(line, ": "); strings.Contains(line, "reading https://") && i > 0 {
			line = line[strings.Index(line, "reading https://"):]
		}
		if !slices.Contains(lines, line) {
			lines = append(lines, line)
		}
	}
	if len(lines) > 3 {
		lines = append(lines[:3], fmt.Sprintf("(%d more)", len(lines)-3))
	}
	return strings.Join(lines, "; ")
}
