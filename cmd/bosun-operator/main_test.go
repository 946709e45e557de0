package main

import (
	"os"
	"testing"
)

// runMainEnv, set to 1, makes the test binary run bosun-operator's main instead of the tests, so that
// a test can run the operator as a process, as a cluster does.
const runMainEnv = "BOSUN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(runTests(m))
}

// runTests runs the tests. The integration tests (stop_test.go) replace it to start the API server
// the operator runs against.
var runTests = func(m *testing.M) int { return m.Run() }
