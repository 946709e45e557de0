// Package crds holds bosun's generated CustomResourceDefinitions: the YAML files beside this file,
// written by `make generate`. They are the chart's crds/ (Helm installs them before the operator) and,
// embedded here, what config/crd installs and tests.
package crds

import "embed"

// FS holds the CRDs, one YAML file each.
//
//go:embed *.yaml
var FS embed.FS
