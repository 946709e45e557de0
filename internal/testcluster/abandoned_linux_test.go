package testcluster

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// deadPID is a process id no process has: one above the kernel's limit.
func deadPID(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if processAlive(max + 1) {
		t.Fatalf("process %d, above pid_max, looks alive", max+1)
	}
	return max + 1
}

// TestRemoveAbandonedReadsOwnersAsWritten checks the owner files of cluster
// directories as writeOwner and a person editing them leave them: an owner
// with surrounding whitespace is still read (and its directory removed when
// it died); an owner that is not a positive number is not trusted, so the
// directory stays; a living owner's directory stays.
func TestRemoveAbandonedReadsOwnersAsWritten(t *testing.T) {
	dead := strconv.Itoa(deadPID(t))
	tests := []struct {
		name, owner string
		wantKept    bool
	}{
		{"dead owner", dead, false},
		{"dead owner with a newline", dead + "\n", false},
		{"dead owner with spaces", "  " + dead + " \n", false},
		{"this process", strconv.Itoa(os.Getpid()), true},
		{"init, alive and not ours to signal", "1", true},
		{"zero", "0", true},
		{"negative", "-" + dead, true},
		{"not a number", "abc", true},
		{"empty", "", true},
	}
	parent := t.TempDir()
	for i, tt := range tests {
		dir := filepath.Join(parent, dirPrefix+strconv.Itoa(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(tt.owner), 0o644); err != nil {
			t.Fatal(err)
		}
		// etcd's data, which the clean-up exists for.
		if err := os.MkdirAll(filepath.Join(dir, "etcd", "member", "wal"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	removeAbandoned(parent)
	for i, tt := range tests {
		_, err := os.Stat(filepath.Join(parent, dirPrefix+strconv.Itoa(i)))
		if kept := err == nil; kept != tt.wantKept {
			t.Errorf("%s (owner %q): kept = %v, want %v", tt.name, tt.owner, kept, tt.wantKept)
		}
	}
}

// TestRemoveAbandonedTouchesOnlyClusterDirectories checks what else is in
// the temporary directory: a file named like a cluster directory, a
// directory with an owner file but another name, and a cluster directory
// whose owner file is a directory are all left alone; a missing parent is
// not an error.
func TestRemoveAbandonedTouchesOnlyClusterDirectories(t *testing.T) {
	dead := strconv.Itoa(deadPID(t))
	parent := t.TempDir()
	file := filepath.Join(parent, dirPrefix+"file")
	if err := os.WriteFile(file, []byte(dead), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(parent, "go-build123")
	ownerDir := filepath.Join(parent, dirPrefix+"odd")
	for _, dir := range []string{other, filepath.Join(ownerDir, ownerFile)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(other, ownerFile), []byte(dead), 0o644); err != nil {
		t.Fatal(err)
	}
	removeAbandoned(parent)
	for _, path := range []string{file, other, ownerDir} {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("%s was removed: %v", path, err)
		}
	}
	removeAbandoned(filepath.Join(parent, "missing"))
}

// TestWriteOwnerNamesThisProcess checks that a cluster's own directory is
// owned by the process that started it, so that another test binary's
// clean-up leaves it alone while this one lives, and removes it once it
// died.
func TestWriteOwnerNamesThisProcess(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, dirPrefix+"mine")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeOwner(dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil || string(data) != strconv.Itoa(os.Getpid()) {
		t.Errorf("owner file %q, %v; want this process's id %d", data, err, os.Getpid())
	}
	removeAbandoned(parent)
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("the running owner's cluster directory was removed: %v", err)
	}
	// The same directory once its owner is gone.
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(deadPID(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	removeAbandoned(parent)
	if _, err := os.Stat(dir); err == nil {
		t.Error("a dead owner's cluster directory was kept")
	}
}
