// Package buildinfo says which bosun a binary is: the release version set when it was built, else the
// VCS revision Go recorded. The operator puts it in every render digest, so that a new bosun re-applies
// what it renders differently, and `bosun render` computes the same digests; the commands print it.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// release is bosun's release version, set at build time with
// -ldflags "-X github.com/bosun-mesh/bosun/internal/buildinfo.release=v0.1.0" (make image does).
var release = ""

// Version is the release version if one was set, else "dev-" and the VCS revision Go recorded (with
// "-dirty" for a modified tree), else "dev".
func Version() string {
	if release != "" {
		return release
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

// String is what a command's version output says of program: its version, Go's, and the platform.
func String(program string) string {
	return fmt.Sprintf("%s %s (%s, %s/%s)", program, Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
