// Command bosun installs, upgrades and retires Istio service meshes. It is both the operator
// (`bosun operator`) and the tools around it; `bosun --help` lists the commands.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "bosun",
		Short:         "Install, upgrade and retire Istio service meshes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCommand(), newOperatorCommand(), newRenderCommand(), newDevClusterCommand())
	return root
}
