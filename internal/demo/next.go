package demo

import (
	"fmt"
	"io"
	"strings"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// Next is what the demo prints once bookinfo runs: how to reach the cluster and what to try.
type Next struct {
	// Kubeconfig is the admin's kubeconfig file.
	Kubeconfig string
	// BinDir holds kubectl.
	BinDir string
	// LogDir is the cluster's directory, with one log per component.
	LogDir string
	// Version is the mesh's version.
	Version Version
	// Update is a version to move the mesh to (UpdateTarget), or empty.
	Update Update
}

// Update is a version change to suggest.
type Update struct {
	// Version is the spec.version to set.
	Version string
	// Refused says an InPlace Istio refuses the change (it skips a minor version) until annotated.
	Refused bool
	// Istiod says whether pilot-discovery of the version is built, so that restarted pods are
	// injected by it.
	Istiod bool
}

// UpdateTarget picks a version to suggest moving the mesh to from current: one an InPlace Istio
// accepts (one minor version away) if the catalog has one; then one whose istiod is built
// (hasIstiod); then a newer one rather than an older; then the nearest. It returns the zero Update
// when the catalog has no other version of the same major.
func UpdateTarget(cat *catalog.Catalog, current string, hasIstiod func(version string) bool) Update {
	cur, err := catalog.ParseVersion(current)
	if err != nil {
		return Update{}
	}
	var best Update
	bestScore := -1 << 30
	for _, v := range cat.Versions() {
		if v.Name == current || v.Semver.Major() != cur.Semver.Major() {
			continue
		}
		distance := int(v.Semver.Minor()) - int(cur.Semver.Minor())
		newer := v.Semver.GreaterThan(cur.Semver)
		if distance < 0 {
			distance = -distance
		}
		u := Update{Version: aliasOf(cat, v.Name), Refused: distance > 1, Istiod: hasIstiod(v.Name)}
		// Accepted first, then built, then newer, then near.
		score := -distance
		if !u.Refused {
			score += 1000
		}
		if u.Istiod {
			score += 100
		}
		if newer {
			score += 50
		}
		if score > bestScore {
			best, bestScore = u, score
		}
	}
	return best
}

// Write prints the hints.
func (n Next) Write(out io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, `
Keep going, in another shell:

  export KUBECONFIG=%s
  export PATH=%s:$PATH   # kubectl, built with the cluster

  kubectl get istio-io                     # everything bosun manages
  kubectl get istiorevision                # IN USE is True: bookinfo's pods run its sidecar
  bin/bosun status                         # what runs on which revision (docs/status.md)

Inject another namespace, and watch IN USE follow it:
  kubectl create namespace shop
  kubectl label namespace shop istio-injection=enabled
  kubectl create deployment web -n shop --image=registry.example.com/web:1
  kubectl get pods -n shop -o 'custom-columns=NAME:.metadata.name,CONTAINERS:.spec.containers[*].name'
`, n.Kubeconfig, n.BinDir)
	if u := n.Update; u.Version != "" {
		fmt.Fprintf(&b, "\nUpdate the mesh from %s to %s (InPlace: the revision %s is updated, pods keep their sidecar until restarted):\n", n.Version.Name, u.Version, MeshName)
		if u.Refused {
			fmt.Fprintf(&b, "  kubectl patch istio %s --type merge -p '{\"spec\":{\"version\":\"%s\"}}'\n", MeshName, u.Version)
			fmt.Fprintf(&b, "  kubectl get istio %s -o jsonpath='{.status.conditions[?(@.type==\"Reconciled\")].message}'   # refused: more than one minor version\n", MeshName)
			fmt.Fprintf(&b, "  kubectl annotate istio %s bosun.dev/allow-minor-version-skip=true                        # to go anyway\n", MeshName)
		} else {
			fmt.Fprintf(&b, "  kubectl patch istio %s --type merge -p '{\"spec\":{\"version\":\"%s\"}}'\n", MeshName, u.Version)
		}
		fmt.Fprintf(&b, "  kubectl patch istiocni %s --type merge -p '{\"spec\":{\"version\":\"%s\"}}'\n", MeshName, u.Version)
		fmt.Fprintf(&b, "  kubectl get istio,istiorevision,istiocni\n")
		fmt.Fprintf(&b, "  bin/bosun status   # each bookinfo Deployment is due for a restart onto the new proxy, with the command\n")
		fmt.Fprintf(&b, "  kubectl rollout restart deployment -n %s   # the new pods carry the new version's sidecar\n", AppNamespace)
		fmt.Fprintf(&b, "  kubectl rollout status deployment -n %s\n", AppNamespace)
		if !u.Istiod {
			fmt.Fprintf(&b, "  (%s has no pilot-discovery build here, so its istiod stays fake and cannot inject the restarted pods:\n   `make istiod-bins` builds every version that builds; docs/istiod-in-the-box.md)\n", u.Version)
		}
	}
	fmt.Fprintf(&b, `
Logs are in %s, one file per component: the operator's under operator/,
istiod's under istiod/, and what the box's network and pod players did in box.log (no kubelet runs, so
kubectl logs cannot reach a pod).
docs/demo.md explains what runs and what to try. Press Ctrl-C to stop everything and remove the files.
`, n.LogDir)
	io.WriteString(out, b.String())
}
