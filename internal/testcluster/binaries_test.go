package testcluster

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/repo"
)

// TestBinDirPrecedence checks where the cluster's programs are looked for:
// Options.BinDir first, then $BOSUN_CLUSTER_BIN, then the repository's
// bin/cluster/<KubeVersion>, found from any directory inside it.
func TestBinDirPrecedence(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env string
		opts      Options
		want      string
	}{
		{name: "option", env: "/from/env", opts: Options{BinDir: "/from/options"}, want: "/from/options"},
		{name: "environment", env: "/from/env", want: "/from/env"},
		{name: "repository", want: filepath.Join(root, "bin", "cluster", KubeVersion)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(BinDirEnv, tt.env)
			got, err := binDir(tt.opts)
			if err != nil || got != tt.want {
				t.Errorf("binDir = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("repository from a subdirectory", func(t *testing.T) {
		t.Setenv(BinDirEnv, "")
		t.Chdir(filepath.Join(root, "internal", "testcluster", "clustertest"))
		if got, err := binDir(Options{}); err != nil || got != filepath.Join(root, "bin", "cluster", KubeVersion) {
			t.Errorf("binDir = %q, %v; want the repository's", got, err)
		}
	})
}

// TestBinDirOutsideTheRepositorySaysWhatToSet checks that, run outside the
// repository with nothing set, looking for the programs fails with an error
// that names both ways to say where they are.
func TestBinDirOutsideTheRepositorySaysWhatToSet(t *testing.T) {
	t.Setenv(BinDirEnv, "")
	t.Setenv(IstiodBinDirEnv, "")
	t.Chdir(t.TempDir())
	if _, err := binDir(Options{}); err == nil || !strings.Contains(err.Error(), BinDirEnv) || !strings.Contains(err.Error(), "Options.BinDir") {
		t.Errorf("binDir outside the repository: %v, want an error naming %s and Options.BinDir", err, BinDirEnv)
	}
	if _, err := IstiodBinDir(Options{}); err == nil || !strings.Contains(err.Error(), IstiodBinDirEnv) || !strings.Contains(err.Error(), "Options.IstiodBinDir") {
		t.Errorf("IstiodBinDir outside the repository: %v, want an error naming %s and Options.IstiodBinDir", err, IstiodBinDirEnv)
	}
	// Given explicitly, no repository is needed.
	if got, err := binDir(Options{BinDir: "/opt/cluster"}); err != nil || got != "/opt/cluster" {
		t.Errorf("binDir with Options.BinDir outside the repository = %q, %v", got, err)
	}
}

// TestIstiodBinDirPrecedence checks where pilot-discovery builds are looked
// for: Options.IstiodBinDir, then $BOSUN_ISTIOD_BIN, then bin/istiod.
func TestIstiodBinDirPrecedence(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env string
		opts      Options
		want      string
	}{
		{name: "option", env: "/from/env", opts: Options{IstiodBinDir: "/from/options", BinDir: "/cluster"}, want: "/from/options"},
		{name: "environment", env: "/from/env", opts: Options{BinDir: "/cluster"}, want: "/from/env"},
		{name: "repository", opts: Options{BinDir: "/cluster"}, want: filepath.Join(root, "bin", "istiod")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(IstiodBinDirEnv, tt.env)
			got, err := IstiodBinDir(tt.opts)
			if err != nil || got != tt.want {
				t.Errorf("IstiodBinDir = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestCheckBinariesNamesEveryMissingProgram checks that a bin directory
// missing programs fails with one error that lists every missing one of the
// mode asked for, and says to run `make cluster-bins`; an API-server-only
// cluster needs only etcd and kube-apiserver.
func TestCheckBinariesNamesEveryMissingProgram(t *testing.T) {
	all := []string{etcdBin, apiServerBin, controllerManagerBin, schedulerBin, kwokBin, kwokStagesDir}
	tests := []struct {
		name        string
		present     []string
		full        bool
		wantMissing []string
	}{
		{name: "empty, API server only", full: false, wantMissing: []string{etcdBin, apiServerBin}},
		{name: "empty, full", full: true, wantMissing: all},
		{name: "API server only needs no more", present: []string{etcdBin, apiServerBin}, full: false},
		{name: "full without kwok", present: []string{etcdBin, apiServerBin, controllerManagerBin, schedulerBin}, full: true,
			wantMissing: []string{kwokBin, kwokStagesDir}},
		{name: "all there", present: all, full: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range tt.present {
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			err := checkBinaries(dir, tt.full)
			if len(tt.wantMissing) == 0 {
				if err != nil {
					t.Errorf("checkBinaries: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkBinaries: nil, want %v missing", tt.wantMissing)
			}
			msg := err.Error()
			open, end := strings.Index(msg, "["), strings.Index(msg, "]")
			if open < 0 || end < open {
				t.Fatalf("error %q lists no programs", msg)
			}
			if got := strings.Fields(msg[open+1 : end]); !slices.Equal(got, tt.wantMissing) {
				t.Errorf("missing programs %v, want %v", got, tt.wantMissing)
			}
			for _, want := range []string{"make cluster-bins", dir} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}

// TestStartWithoutProgramsFailsBeforeStartingAnything checks that Start with
// a bin directory lacking programs says how to build them, and creates no
// cluster directory.
func TestStartWithoutProgramsFailsBeforeStartingAnything(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	_, err := Start(t.Context(), Options{BinDir: filepath.Join(tmp, "bin")})
	if err == nil || !strings.Contains(err.Error(), "make cluster-bins") || !strings.HasPrefix(err.Error(), "testcluster: ") {
		t.Errorf("Start without programs: %v, want a testcluster error saying to run make cluster-bins", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), dirPrefix) {
			t.Errorf("Start left %s behind", e.Name())
		}
	}
}

// TestFindIstiodBinaries checks which pilot-discovery builds are found: one
// per <version>/pilot-discovery that is a regular file, none (and no error)
// when nothing was built, and never a failed build's folder or a stray file.
func TestFindIstiodBinaries(t *testing.T) {
	dir := t.TempDir()
	mk := func(path string, dirOnly bool) {
		t.Helper()
		full := filepath.Join(dir, filepath.FromSlash(path))
		if dirOnly {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk("v1.25.0-snapshot.be4b14ad/pilot-discovery", false)
	mk("v1.31.0-snapshot.eed52ebb/pilot-discovery", false)
	mk("v1.27.0-snapshot.b9159ca3/pilot-discovery.failed", false) // a failed build keeps its reason only
	mk("v1.28.0/pilot-discovery", true)                           // not a program
	mk("README", false)

	bins, err := findIstiodBinaries(Options{IstiodBinDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"v1.25.0-snapshot.be4b14ad", "v1.31.0-snapshot.eed52ebb"}
	if got := bins.versions(); !slices.Equal(got, want) {
		t.Errorf("versions %v, want %v", got, want)
	}
	if got := bins["v1.25.0-snapshot.be4b14ad"]; got != repo.PilotDiscovery(dir, "v1.25.0-snapshot.be4b14ad") {
		t.Errorf("path %q, want the build in %s", got, dir)
	}

	none, err := findIstiodBinaries(Options{IstiodBinDir: filepath.Join(dir, "never-built")})
	if err != nil || len(none) != 0 {
		t.Errorf("a missing build directory: %v, %v; want no builds and no error (istiod pods stay fake)", none, err)
	}
}

// TestIstiodBinariesPickByMinor checks which build plays a version beyond
// the cases of TestIstiodBinariesPick: an exact build wins over another of
// its minor, its own minor wins over the next one, the next minor serves a
// version whose own has no build, and neither a previous minor nor another
// major ever does.
func TestIstiodBinariesPickByMinor(t *testing.T) {
	bins := istiodBinaries{
		"v1.25.0-snapshot.be4b14ad": "/bin/1.25-snapshot",
		"v1.25.3":                   "/bin/1.25.3",
		"v1.26.1":                   "/bin/1.26.1",
	}
	tests := []struct {
		version, want string
	}{
		{"v1.25.3", "/bin/1.25.3"},
		{"v1.25.0-snapshot.be4b14ad", "/bin/1.25-snapshot"},
		{"v1.26.7", "/bin/1.26.1"},
		{"v1.24.2", "/bin/1.25-snapshot"}, // the next minor, sorted first of its builds
		{"v1.27.0", ""},                   // a previous minor never plays a newer version
		{"v2.25.0", ""},
		{"v0.25.0", ""},
		{"1.26.0", "/bin/1.26.1"}, // without the v, as an image tag may be written
		{"v1.x.0", ""},
		{"v1", ""},
	}
	for _, tt := range tests {
		got, ok := bins.pick(tt.version)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("pick(%q) = %q, %v; want %q", tt.version, got, ok, tt.want)
		}
	}
	if got, ok := (istiodBinaries{}).pick("v1.25.0"); ok || got != "" {
		t.Errorf("pick with no builds = %q, %v; want none", got, ok)
	}
}

// TestMinorOf checks how versions are read: vX.Y with any patch and
// suffix, with or without the v; anything else is not a version.
func TestMinorOf(t *testing.T) {
	tests := []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"v1.25.0", 1, 25, true},
		{"1.25.0", 1, 25, true},
		{"v1.25", 1, 25, true},
		{"v1.25.0-snapshot.be4b14ad", 1, 25, true},
		{"v1.31.0-rc.1", 1, 31, true},
		{"v1", 0, 0, false},
		{"", 0, 0, false},
		{"latest", 0, 0, false},
		{"v1.x.0", 0, 0, false},
		{"vx.25.0", 0, 0, false},
	}
	for _, tt := range tests {
		major, minor, ok := minorOf(tt.in)
		if ok != tt.ok || (ok && (major != tt.major || minor != tt.minor)) {
			t.Errorf("minorOf(%q) = %d, %d, %v; want %d, %d, %v", tt.in, major, minor, ok, tt.major, tt.minor, tt.ok)
		}
	}
}
