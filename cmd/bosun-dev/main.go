// Command bosun-dev holds bosun's developer commands: `bosun-dev cluster` runs the cluster in a box
// (internal/testcluster) with bosun's CRDs, and `bosun-dev demo` runs make demo's steps
// (internal/demo) on it. In both, the box plays bosun's operator pods with the bosun-operator binary
// (cmd/bosun-operator; by default the one beside this executable, as make builds them into bin/).
//
// These commands are a separate binary so that neither the operator nor the user's bosun links the box,
// the demo or their test helpers.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/bosun-mesh/bosun/internal/buildinfo"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "bosun-dev",
		Short:         "bosun's developer commands: the cluster in a box and the demo",
		Version:       buildinfo.Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate(buildinfo.String("bosun-dev") + "\n")
	root.AddCommand(newClusterCommand(), newDemoCommand(), newDemoMulticlusterCommand())
	return root
}

// operatorBinaryName is the operator's executable, as make build names it in bin/.
const operatorBinaryName = "bosun-operator"

// boxFlags are the flags the cluster and demo commands share.
type boxFlags struct {
	nodes          int
	operatorBinary string
}

func (f *boxFlags) add(cmd *cobra.Command, nodes int) {
	cmd.Flags().IntVar(&f.nodes, "nodes", nodes, "number of fake nodes")
	cmd.Flags().StringVar(&f.operatorBinary, "operator-binary", "", "the bosun-operator executable that plays bosun's operator pods (default: "+operatorBinaryName+" beside this executable)")
}

// operator returns the absolute path of the executable that plays bosun's operator pods: the flag,
// else bosun-operator beside this executable.
func (f *boxFlags) operator() (string, error) {
	path := f.operatorBinary
	if path == "" {
		self, err := os.Executable()
		if err != nil {
			return "", err
		}
		path = filepath.Join(filepath.Dir(self), operatorBinaryName)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("the operator's executable, which plays bosun's operator pods: %w (make build builds it into bin/; or name one with --operator-binary)", err)
	}
	return abs, nil
}

// runUntilInterrupted is the RunE of a command that runs the box: run gets the flags and a context that
// ends at Ctrl-C or SIGTERM.
func (f *boxFlags) runUntilInterrupted(run func(ctx context.Context, cmd *cobra.Command, nodes int, operator string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		operator, err := f.operator()
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return run(ctx, cmd, f.nodes, operator)
	}
}
