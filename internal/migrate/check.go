package migrate

import (
	"fmt"
	"strings"

	"github.com/bosun-mesh/bosun/internal/migrate/maistra"
)

// Outcome is the result of one pre-migration check.
type Outcome string

// The outcomes, from best to worst.
const (
	Pass Outcome = "pass"
	Warn Outcome = "warn"
	Fail Outcome = "fail"
)

// CheckRow is one line of the pre-migration checklist.
type CheckRow struct {
	Check   string  `json:"check"`
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail"`
}

// ClusterFacts are what the checklist needs of a cluster besides the 2.6 objects.
type ClusterFacts struct {
	// Federation counts the ServiceMeshPeer, ExportedServiceSet and ImportedServiceSet objects.
	Federation int
	// SailAPI is true when the cluster serves sailoperator.io/v1 Istio: bosun (or another 3.x
	// operator) is installed.
	SailAPI bool
}

// Check runs the OpenShift Service Mesh 3.0 pre-migration checklist over the 2.6 objects and the
// cluster's facts, one group of rows per control plane. A cluster without a control plane fails.
func Check(in *maistra.Inputs, facts ClusterFacts, o Options) []CheckRow {
	var rows []CheckRow
	if len(in.ControlPlanes) == 0 {
		return []CheckRow{{Check: "ServiceMeshControlPlane", Outcome: Fail, Detail: "none found: there is no 2.6 control plane to migrate"}}
	}
	if facts.SailAPI {
		rows = append(rows, CheckRow{Check: "3.x API", Outcome: Pass, Detail: "the cluster serves sailoperator.io/v1 Istio"})
	} else {
		rows = append(rows, CheckRow{Check: "3.x API", Outcome: Fail, Detail: "the cluster serves no sailoperator.io/v1 Istio: install bosun (deploy/bosun.yaml or its chart) next to the 2.6 operator"})
	}
	if facts.Federation > 0 {
		rows = append(rows, CheckRow{Check: "federation", Outcome: Fail, Detail: fmt.Sprintf("%d ServiceMeshPeer, ExportedServiceSet or ImportedServiceSet objects: federation has no 3.0 equivalent", facts.Federation)})
	} else {
		rows = append(rows, CheckRow{Check: "federation", Outcome: Pass, Detail: "not in use"})
	}
	for _, cp := range in.ControlPlanes {
		rows = append(rows, checkControlPlane(cp, in, o)...)
	}
	return rows
}

// Failed reports whether any row failed.
func Failed(rows []CheckRow) int {
	n := 0
	for _, r := range rows {
		if r.Outcome == Fail {
			n++
		}
	}
	return n
}

func checkControlPlane(cp *maistra.ControlPlane, in *maistra.Inputs, o Options) []CheckRow {
	prefix := fmt.Sprintf("%s/%s: ", cp.Namespace, cp.Name)
	row := func(check string, out Outcome, detail string) CheckRow {
		return CheckRow{Check: prefix + check, Outcome: out, Detail: detail}
	}
	var rows []CheckRow
	version := cp.Spec.Version
	if cp.Status.ChartVersion != "" {
		version += " (charts " + cp.Status.ChartVersion + ")"
	}
	if AtLeast26(cp.Spec.Version) {
		rows = append(rows, row("version", Pass, version))
	} else {
		rows = append(rows, row("version", Fail, orUnset(version)+": update to v2.6 first; 3.x migrates from 2.6 only"))
	}
	roll := RollFor(cp, in.MemberRolls)
	res, err := Convert(cp, roll, in.Members, in.Unknown, o)
	if err != nil {
		return append(rows, row("conversion", Fail, err.Error()))
	}
	switch {
	case res.AllNamespaces:
		rows = append(rows, row("mode", Warn, `MultiTenant, every namespace a member (the member roll lists "*"): the Istio watches every namespace, as 2.6 did; scope it with discovery selectors`))
	case res.MultiTenant:
		rows = append(rows, row("mode", Pass, fmt.Sprintf("MultiTenant, %d member namespaces: the Istio gets discovery selectors for them", len(res.Members))))
	default:
		rows = append(rows, row("mode", Pass, "ClusterWide: the Istio watches every namespace, as before"))
	}
	var blocking, warnings []string
	gateways, addons := res.GatewaysFound, res.AddonsFound
	for _, f := range res.Findings {
		switch {
		case f.Severity == Blocking && f.Field != "spec.version":
			blocking = append(blocking, f.Field)
		case f.Severity == Warning && !strings.HasPrefix(f.Field, "spec.addons."):
			warnings = append(warnings, f.Field)
		}
	}
	if len(blocking) > 0 {
		rows = append(rows, row("blocking features", Fail, strings.Join(blocking, ", ")))
	} else {
		rows = append(rows, row("blocking features", Pass, "none"))
	}
	if len(gateways) > 0 {
		rows = append(rows, row("gateways", Warn, strings.Join(gateways, ", ")+": bosun migrate convert prints injected gateways to deploy next to them"))
	} else {
		rows = append(rows, row("gateways", Pass, "none"))
	}
	if len(addons) > 0 {
		rows = append(rows, row("addons", Warn, strings.Join(addons, ", ")+": 3.x installs no add-ons; install them separately"))
	} else {
		rows = append(rows, row("addons", Pass, "none"))
	}
	if len(warnings) > 0 {
		rows = append(rows, row("settings to review", Warn, fmt.Sprintf("%d (%s): see bosun migrate convert", len(warnings), strings.Join(warnings, ", "))))
	} else {
		rows = append(rows, row("settings to review", Pass, "none"))
	}
	return rows
}

// RollFor is the member roll of the control plane's namespace, or nil.
func RollFor(cp *maistra.ControlPlane, rolls []*maistra.MemberRoll) *maistra.MemberRoll {
	for _, r := range rolls {
		if r.Namespace == cp.Namespace {
			return r
		}
	}
	return nil
}
