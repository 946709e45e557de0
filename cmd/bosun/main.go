// Command bosun is bosun's command-line tool for users: `bosun render` prints offline what the
// operator would apply for a manifest; `bosun status` shows the mesh (also as `kubectl bosun status`,
// under the name kubectl-bosun); `bosun --help` lists the commands. The operator is another
// binary (cmd/bosun-operator), and so are the developers' cluster in a box and demo (cmd/bosun-dev):
// a test of cmd/bosun-operator fails if bosun or the operator links them.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		if err.Error() != "" {
			fmt.Fprintln(os.Stderr, "Error:", err)
		}
		os.Exit(exitCode(err))
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "bosun",
		Short:         "The command-line tool of bosun, the operator that installs, upgrades and retires Istio service meshes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCommand(), newRenderCommand(), newCreateRemoteSecretCommand(), newStatusCommand(), newMigrateCommand())
	return root
}
