package testcluster

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// dirPrefix starts the name of every cluster directory in os.TempDir().
const dirPrefix = "bosun-testcluster-"

// ownerFile, in a cluster directory, holds the process id of the process
// that started the cluster.
const ownerFile = "owner.pid"

// writeOwner records this process as the owner of the cluster directory.
func writeOwner(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

// removeAbandoned removes the cluster directories in parent whose owner has
// died. A test binary that is killed or times out cannot run Stop; its
// components die with it (see sysProcAttr) but its directory stays, with
// etcd's preallocated write-ahead log of 64 MB. The next cluster started on
// the machine cleans up. Directories without a readable owner are left
// alone: they may be a cluster that is starting right now.
func removeAbandoned(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), dirPrefix) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}
