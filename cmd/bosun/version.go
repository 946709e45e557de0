package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bosun-mesh/bosun/internal/buildinfo"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print bosun's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), buildinfo.String("bosun"))
		},
	}
}
