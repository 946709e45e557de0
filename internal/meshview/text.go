package meshview

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	v1 "github.com/bosun-mesh/bosun/api/v1"
)

// Style colours the words that say whether something is ready; the zero Style prints them plain.
type Style struct{ Color bool }

func (s Style) ready(h Health) string {
	word := "Ready"
	if !h.Ready {
		word = "NotReady(" + h.Reason + ")"
	}
	if !s.Color {
		return word
	}
	if h.Ready {
		return "\x1b[32m" + word + "\x1b[0m"
	}
	return "\x1b[31m" + word + "\x1b[0m"
}

// Text writes the view for a terminal: the Istios and their migrations, the revisions with what uses
// them, the workloads due for a restart with the command that moves each, the node agents, and the
// finished pods, which count for nothing.
func (st Status) Text(w io.Writer, style Style) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	if len(st.Istios) == 0 && len(st.Revisions) == 0 {
		p("No Istio or IstioRevision in this cluster.\n")
	}
	if len(st.Istios) > 0 {
		p("ISTIO\tNAMESPACE\tVERSION\tSTRATEGY\tACTIVE REVISION\tSTATUS\n")
		for _, i := range st.Istios {
			p("%s\t%s\t%s\t%s\t%s\t%s\n", i.Name, i.Namespace, i.Version, i.UpdateStrategy, orNone(i.ActiveRevision), style.ready(i.Health))
		}
		p("\n")
		for _, i := range st.Istios {
			p("%s\n", migrationLine(i))
			if u := i.WorkloadsUpdate; u != nil {
				p("%s\n", updateLine(i.Name, u))
			}
			if pre := i.Preflight; pre != nil && !pre.Passed {
				p("%s: pre-flight: %s\n", i.Name, pre.Message)
			}
		}
		p("\n")
	}
	if len(st.Revisions) > 0 {
		p("REVISION\tISTIO\tVERSION\tSTATUS\tTAGS\tNAMESPACES\tPODS\tPROXIES\n")
		for _, r := range st.Revisions {
			name := r.Name
			if r.Active {
				name += " (active)"
			}
			p("%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", name, orNone(r.Istio), r.Version, style.ready(r.Health), orNone(strings.Join(r.Tags, ",")),
				len(r.Namespaces), r.Pods, proxies(r.Proxies))
		}
		for _, r := range st.Revisions {
			if len(r.Namespaces) == 0 && len(r.Workloads) == 0 {
				continue
			}
			p("\n%s:\n", r.Name)
			for _, ns := range r.Namespaces {
				p("  namespace %s\t(%s)\n", ns.Name, ns.By)
			}
			for _, wl := range r.Workloads {
				p("  %s %s/%s\t%s, proxy %s\n", strings.ToLower(wl.Kind), wl.Namespace, wl.Name, count(wl.Pods, "pod"), strings.Join(wl.Proxies, ", "))
			}
		}
		p("\n")
	}
	if len(st.Restarts) > 0 {
		p("RESTART DUE (the pods run another revision or proxy than their labels select)\n")
		for _, r := range st.Restarts {
			p("  %s %s/%s\t%s on %s, wants %s\n    %s\n", strings.ToLower(r.Kind), r.Namespace, r.Name, count(r.Pods, "pod"), r.RunsOn, r.Wants, r.Command)
		}
		p("\n")
	}
	if len(st.Unresolved) > 0 {
		p("NAMESPACES SELECTING NOTHING (no revision or tag has the name: their pods lose their sidecar when they restart)\n")
		for _, ns := range st.Unresolved {
			p("  %s\t(%s)\n", ns.Name, ns.By)
		}
		p("\n")
	}
	if len(st.NodeAgents) > 0 {
		p("NODE AGENT\tVERSION\tSTATUS\tNODES READY\n")
		for _, a := range st.NodeAgents {
			p("%s %s\t%s\t%s\t%d/%d\n", a.Kind, a.Name, a.Version, style.ready(a.Health), a.NodesReady, a.NodesDesired)
		}
		p("\n")
	}
	if len(st.Finished) > 0 {
		p("FINISHED PODS (Succeeded or Failed: they use no revision)\n")
		for _, f := range st.Finished {
			p("  %s/%s\t(injected by %s)\n", f.Namespace, f.Name, orNone(f.Revision))
		}
	}
	return tw.Flush()
}

// migrationLine says how far an Istio's workloads have moved to its active revision, and which are
// left, such as "default: 4 of 6 workloads on default-v1-27-3; left on default-v1-27-2:
// bookinfo/reviews-v2, bookinfo/ratings-v1".
func migrationLine(i Istio) string {
	m := i.Migration
	line := fmt.Sprintf("%s: %d of %s on %s", i.Name, m.OnActive, count(m.Workloads, "workload"), orNone(i.ActiveRevision))
	for _, rev := range slices.Sorted(maps.Keys(m.LeftOn)) {
		line += fmt.Sprintf("; left on %s: %s", rev, listed(m.LeftOn[rev]))
	}
	return line
}

// updateLine says how far bosun's own move of an Istio's workloads is, and why it stopped if it did.
func updateLine(istio string, u *WorkloadsUpdate) string {
	line := fmt.Sprintf("%s: bosun moves the workloads to %s: %s; %s moved, %d left, %s on an older proxy", istio, u.Target, u.Reason,
		count(int(u.NamespacesDone), "namespace"), u.NamespacesLeft, count(int(u.PodsLeft), "pod"))
	if u.InProgress != "" {
		line += "; restarting " + u.InProgress
	}
	if !u.Done && u.Reason != v1.ReasonMoving {
		line += "\n  " + u.Message
	}
	return line
}

// maxListed is how many workloads a migration line names before it says how many more are left; the
// JSON lists them all.
const maxListed = 5

func listed(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
}

func proxies(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s:%d", v, m[v]))
	}
	return strings.Join(parts, " ")
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
