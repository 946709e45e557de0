package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runMainEnv, set to 1, makes the test binary run bosun's main instead of the tests, so that a test can
// run bosun as a user does and see its exit code and output (see runBosun).
const runMainEnv = "BOSUN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(runTests(m))
}

// runTests runs the tests. The integration tests (render_apply_test.go) replace it to start the API
// server they check render's output against.
var runTests = func(m *testing.M) int { return m.Run() }

// runBosun runs bosun with args and stdin in a process of its own, as a user does, and returns what it
// wrote to standard output and standard error, and its exit code.
func runBosun(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running bosun %v: %v", args, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}
