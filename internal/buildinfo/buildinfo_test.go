package buildinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// printer is a program that prints Version and String.
const printer = `package main

import (
	"fmt"

	"github.com/bosun-mesh/bosun/internal/buildinfo"
)

func main() {
	fmt.Println(buildinfo.Version())
	fmt.Println(buildinfo.String("bosun"))
}
`

// module lays out, in a fresh git repository with one commit, a module of bosun's path holding this
// package's buildinfo.go and printer, and returns the repository and its commit. (Go records no VCS
// information for a git worktree, which a checkout of bosun may be, so the repository is made here.)
func module(t *testing.T) (dir, commit string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("the VCS stamp needs git: %v", err)
	}
	source, err := os.ReadFile("buildinfo.go")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	for name, content := range map[string]string{
		"go.mod":                          "module github.com/bosun-mesh/bosun\n\ngo 1.24\n",
		"internal/buildinfo/buildinfo.go": string(source),
		"cmd/printer/main.go":             printer,
	} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=bosun", "-c", "user.email=bosun@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "printer")
	return dir, git("rev-parse", "HEAD")
}

// build compiles the printer of dir with the extra go build flags and returns its two lines of
// output. The binary is written outside the repository, which it would otherwise make dirty.
func build(t *testing.T, dir string, flags ...string) (version, str string) {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "printer")
	args := append(append([]string{"build", "-o", binary}, flags...), "./cmd/printer")
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	out, err := exec.Command(binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("the printer said %q", out)
	}
	return lines[0], lines[1]
}

// makeImageRelease is the -X flag make image links the operator with, read from the Makefile.
func makeImageRelease(t *testing.T) string {
	t.Helper()
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-X (\S+)=v\$\(VERSION\)`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile sets no release version with -X")
	}
	return string(m[1])
}

// TestReleaseVersionFromMakeImage: the image's operator reports the release make image links in. The
// linker ignores an -X of a name that does not exist, so a renamed variable would silently leave every
// release reporting a dev version, and its render digests would not change with it.
func TestReleaseVersionFromMakeImage(t *testing.T) {
	dir, _ := module(t)
	version, str := build(t, dir, "-ldflags", "-X "+makeImageRelease(t)+"=v0.9.1")
	if version != "v0.9.1" {
		t.Errorf("Version() = %q in a binary linked with make image's flag, want v0.9.1", version)
	}
	want := "bosun v0.9.1 (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if str != want {
		t.Errorf("String(bosun) = %q, want %q", str, want)
	}
}

// TestDevVersionNamesTheCommit: a binary built from the repository without a release says the commit
// it was built from, marked dirty when the tree had changes, so two different builds never claim the
// same version; without VCS information it says dev.
func TestDevVersionNamesTheCommit(t *testing.T) {
	dir, commit := module(t)
	if version, _ := build(t, dir, "-buildvcs=true"); version != "dev-"+commit[:12] {
		t.Errorf("Version() of a clean tree = %q, want dev-%s", version, commit[:12])
	}
	if err := os.WriteFile(filepath.Join(dir, "cmd", "printer", "main.go"), []byte(printer+"\n// edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if version, _ := build(t, dir, "-buildvcs=true"); version != "dev-"+commit[:12]+"-dirty" {
		t.Errorf("Version() of a changed tree = %q, want dev-%s-dirty", version, commit[:12])
	}
	if version, _ := build(t, dir, "-buildvcs=false"); version != "dev" {
		t.Errorf("Version() without VCS information = %q, want dev", version)
	}
}

// TestReleaseWins: a release version, when set, is what Version and String say, whatever Go recorded.
func TestReleaseWins(t *testing.T) {
	defer func(old string) { release = old }(release)
	release = "v1.2.3"
	if got := Version(); got != "v1.2.3" {
		t.Errorf("Version() = %q, want v1.2.3", got)
	}
	if got := String("bosun-dev"); !strings.HasPrefix(got, "bosun-dev v1.2.3 (go") {
		t.Errorf("String(bosun-dev) = %q", got)
	}
}
