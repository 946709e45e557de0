// Package desired owns every decision bosun makes about its resources: for each kind, from the resource
// and a snapshot of the facts it needs (Facts: the catalog, the other sailoperator.io resources, which
// namespaces exist), what the cluster should hold (the IstioRevision an Istio maps to; the charts, with
// their values, namespaces and release names, that a revision, tag, IstioCNI or ZTunnel is rendered
// from), which revision each reference resolves to, and every refusal with its reason and message.
//
// One function per kind says it all: ForIstio, ForRevision, ForTag, ForCNI, ForZTunnel (and ForCRDs for
// Istio's CRDs). The controllers and `bosun render` both call them and add nothing of their own, so the
// CLI can never print what the operator refuses, nor refuse what it would apply. The functions are pure
// over their inputs: they never read the cluster (the operator reads Facts from its cache first, see
// Read), so a decision can never turn a transient failure into a refusal.
//
// The decisions about whether workloads use a revision are internal/inuse's; this package only says
// which names resolve to a revision (UsageTarget).
package desired

import (
	"io/fs"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/catalog"
	"github.com/bosun-mesh/bosun/internal/inuse"
	"github.com/bosun-mesh/bosun/internal/values"
)

// Default namespaces of the kinds whose spec.namespace has a default.
const (
	DefaultIstioNamespace   = "istio-system"
	DefaultCNINamespace     = "istio-cni"
	DefaultZTunnelNamespace = "ztunnel"
)

// Env is what the decisions depend on besides the resource and the facts: the operator's (or render's)
// configuration.
type Env struct {
	Catalog *catalog.Catalog
	// Resources holds the fetched charts and profiles: <version>/charts and <version>/profiles.
	Resources fs.FS
	Platform  values.Platform
	// External are the node agents another tool manages (the operator's --external-node-components):
	// no control plane requires them of bosun, and their versions are not checked.
	External inuse.Needs
}

// resolve turns spec.version into a catalog version and the profiles it ships. An empty version is
// the catalog's default.
func (e Env) resolve(name string) (catalog.Version, values.Profiles, error) {
	if name == "" {
		name = e.Catalog.Default()
	}
	v, err := e.Catalog.Resolve(name)
	if err != nil {
		return v, values.Profiles{}, err
	}
	sub, err := fs.Sub(e.Resources, v.Name)
	if err != nil {
		return v, values.Profiles{}, err
	}
	return v, values.Profiles{FS: sub, Version: v.Name}, nil
}

// inputs resolves a resource's spec.version and turns its spec.values into a Map: what every decision
// below starts from.
func (e Env) inputs(version string, specValues any) (catalog.Version, values.Profiles, values.Map, error) {
	v, profiles, err := e.resolve(version)
	if err != nil {
		return v, profiles, nil, err
	}
	vals, err := values.FromObject(specValues)
	return v, profiles, vals, err
}

// Needs says which node agents a revision needs of bosun: those its values ask for
// (inuse.DependenciesOf), less the ones another tool manages.
func (e Env) Needs(rev *v1.IstioRevision) inuse.Needs {
	return inuse.DependenciesOf(rev, e.Platform).Without(e.External)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
