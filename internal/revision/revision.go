// Package revision holds the decisions about an Istio's revisions: what they are named and, as bosun
// grows, which is active and when an old one may go. Every function is pure.
package revision

import (
	"strings"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// Name is the IstioRevision an Istio's current spec maps to: the Istio's own name under InPlace, and
// <istio>-<version with dots as dashes> under RevisionBased, so each version gets its own revision
// (default-v1-24-3 for v1.24.3). A version written without its leading v is named as if it had one.
func Name(istio *v1.Istio) string {
	if istio.Spec.UpdateStrategy == nil || istio.Spec.UpdateStrategy.Type != v1.UpdateStrategyRevisionBased {
		return istio.Name
	}
	version := string(istio.Spec.Version)
	if version != "" && version[0] >= '0' && version[0] <= '9' {
		version = "v" + version
	}
	return istio.Name + "-" + strings.ReplaceAll(version, ".", "-")
}
