package main

import (
	"bytes"
	"os"
	"strings"
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

// TestCommandLine: bosun-operator is the operator itself, so the chart's Deployment gives it flags
// alone; an argument, such as the `operator` command of bosun before its split, is refused.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
		wantOut string
	}{
		{args: []string{"operator", "--leader-elect=true"}, wantErr: `unknown command "operator"`},
		{args: []string{"--version"}, wantOut: program + " "},
		{args: []string{"--platform", "mars", "--kubeconfig", "/nonexistent"}, wantErr: "mars"},
	} {
		cmd := newCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(tc.args)
		err := cmd.Execute()
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("bosun-operator %q: error %v, want one saying %q", tc.args, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("bosun-operator %q: %v", tc.args, err)
		case !strings.Contains(out.String(), tc.wantOut):
			t.Errorf("bosun-operator %q printed %q, want %q in it", tc.args, out.String(), tc.wantOut)
		}
	}
}
