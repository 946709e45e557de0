package monitoring

import (
	"bytes"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"sigs.k8s.io/yaml"
)

// wantAlerts are the alerts the rules must hold, with how long each condition must last and the
// severity Alertmanager routes by.
var wantAlerts = map[string]struct {
	after    string
	severity string
}{
	"BosunRevisionNotReady":         {"10m", "critical"},
	"BosunProxiesOutsideSkew":       {"15m", "warning"},
	"BosunInactiveRevisionInUse":    {"7d", "warning"},
	"BosunReconcileErrors":          {"15m", "warning"},
	"BosunNotLeading":               {"5m", "critical"},
	"BosunRemoteClusterUnreachable": {"10m", "warning"},
	"BosunWorkloadsUpdatePaused":    {"1m", "warning"},
}

// parseRules parses a rules file with Prometheus's own parser, which also parses every expression
// and annotation template, unknown fields being errors.
func parseRules(content []byte) (*rulefmt.RuleGroups, []error) {
	return rulefmt.Parse(content, false, model.LegacyValidation, promql)
}

// checkAlerts reports, as errors of t, a rule of groups that is not one of wantAlerts as it should be,
// or one of wantAlerts that groups lack.
func checkAlerts(t *testing.T, where string, groups *rulefmt.RuleGroups) {
	t.Helper()
	seen := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			want, ok := wantAlerts[r.Alert]
			if !ok {
				t.Errorf("%s: rule %q (record %q) is not one of the alerts docs/monitoring.md lists", where, r.Alert, r.Record)
				continue
			}
			if seen[r.Alert] {
				t.Errorf("%s: %s appears twice", where, r.Alert)
			}
			seen[r.Alert] = true
			if d, err := model.ParseDuration(want.after); err != nil || r.For != d {
				t.Errorf("%s: %s fires after %s, want %s", where, r.Alert, r.For, want.after)
			}
			if r.Labels["severity"] != want.severity {
				t.Errorf("%s: %s has severity %q, want %q", where, r.Alert, r.Labels["severity"], want.severity)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: %s has no %s annotation", where, r.Alert, a)
				}
			}
		}
	}
	for name := range wantAlerts {
		if !seen[name] {
			t.Errorf("%s: alert %s is missing", where, name)
		}
	}
}

// TestRulesFile: Prometheus loads deploy/prometheus/bosun-rules.yaml as it is (rulefmt is what
// `promtool check rules` and rule_files use), and it holds each alert, with its severity, summary and
// description.
func TestRulesFile(t *testing.T) {
	groups, errs := parseRules(readFile(t, deployRules))
	for _, err := range errs {
		t.Errorf("%s: %v", deployRules, err)
	}
	if groups == nil {
		t.FailNow()
	}
	checkAlerts(t, deployRules, groups)
}

// TestRulesFileIsTheChartsCopy: deploy/prometheus/bosun-rules.yaml is byte for byte the chart's rules
// file, their only source, so that a Prometheus without the operator gets the alerts the chart's
// PrometheusRule has.
func TestRulesFileIsTheChartsCopy(t *testing.T) {
	if !bytes.Equal(readFile(t, chartRules), readFile(t, deployRules)) {
		t.Errorf("%s differs from %s: edit the chart's file and run make manifests, which copies it", deployRules, chartRules)
	}
}

// ruleQueries returns the expressions of deploy/prometheus/bosun-rules.yaml, each with the labels its
// annotations print.
func ruleQueries(t *testing.T) []query {
	t.Helper()
	groups, errs := parseRules(readFile(t, deployRules))
	if len(errs) > 0 {
		t.Fatalf("%s: %v", deployRules, errs)
	}
	printed := regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	var out []query
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			q := query{where: "rule " + r.Alert, expr: r.Expr}
			for _, text := range r.Annotations {
				for _, m := range printed.FindAllStringSubmatch(text, -1) {
					q.labels = append(q.labels, m[1])
				}
			}
			out = append(out, q)
		}
	}
	return out
}

// TestPrometheusRule: with monitoring.prometheusRule.enabled the chart renders a PrometheusRule whose
// spec is the rules file's groups, which Prometheus's parser accepts, with the labels asked for; the
// wait of BosunInactiveRevisionInUse comes from the values, and a wait that is not a Prometheus
// duration is refused by the chart.
func TestPrometheusRule(t *testing.T) {
	var file map[string]any
	if err := yaml.Unmarshal(readFile(t, chartRules), &file); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set      string
		inactive string
	}{
		{set: "monitoring.prometheusRule.enabled=true,monitoring.prometheusRule.labels.release=kube-prometheus-stack", inactive: "7d"},
		{set: "monitoring.prometheusRule.enabled=true,monitoring.prometheusRule.inactiveRevisionInUseFor=1w3d", inactive: "10d"},
	} {
		obj := renderedObject(t, c.set, "prometheusrule.yaml")
		if obj["apiVersion"] != "monitoring.coreos.com/v1" || obj["kind"] != "PrometheusRule" {
			t.Errorf("--set %s: renders a %v %v, want a monitoring.coreos.com/v1 PrometheusRule", c.set, obj["apiVersion"], obj["kind"])
		}
		meta, _ := obj["metadata"].(map[string]any)
		objLabels, _ := meta["labels"].(map[string]any)
		if strings.Contains(c.set, "release=") && objLabels["release"] != "kube-prometheus-stack" {
			t.Errorf("--set %s: labels %v, want release: kube-prometheus-stack among them", c.set, objLabels)
		}
		spec, err := yaml.Marshal(obj["spec"])
		if err != nil {
			t.Fatal(err)
		}
		groups, errs := parseRules(spec)
		for _, err := range errs {
			t.Errorf("--set %s: the PrometheusRule's spec: %v\n%s", c.set, err, spec)
		}
		if groups == nil {
			continue
		}
		for _, g := range groups.Groups {
			for i, r := range g.Rules {
				if r.Alert == "BosunInactiveRevisionInUse" {
					if want, _ := model.ParseDuration(c.inactive); r.For != want {
						t.Errorf("--set %s: BosunInactiveRevisionInUse fires after %s, want %s", c.set, r.For, want)
					}
					// Apart from that wait, the spec is the file's.
					g.Rules[i].For = model.Duration(7 * 24 * time.Hour)
				}
			}
		}
		checkAlerts(t, "the PrometheusRule, --set "+c.set, groups)
		var got map[string]any
		if err := yaml.Unmarshal(spec, &got); err != nil {
			t.Fatal(err)
		}
		setFor(got, "BosunInactiveRevisionInUse", "7d")
		if !reflect.DeepEqual(got, file) {
			t.Errorf("--set %s: the PrometheusRule's spec is not the rules file's groups:\n%s", c.set, spec)
		}
	}
	if _, err := renderChart(t, "monitoring.prometheusRule.enabled=true,monitoring.prometheusRule.inactiveRevisionInUseFor=7days"); err == nil {
		t.Error("the chart renders inactiveRevisionInUseFor=7days, which Prometheus refuses, without an error")
	}
}

// setFor sets the for of the named alert in rules, a rules file's groups read as YAML.
func setFor(rules map[string]any, alert, value string) {
	groups, _ := rules["groups"].([]any)
	for _, g := range groups {
		group, _ := g.(map[string]any)
		rs, _ := group["rules"].([]any)
		for _, r := range rs {
			if rule, _ := r.(map[string]any); rule["alert"] == alert {
				rule["for"] = value
			}
		}
	}
}

// TestAlertsAreDocumented: docs/monitoring.md has a section for each alert, headed by its name, and
// no section for an alert the rules lack.
func TestAlertsAreDocumented(t *testing.T) {
	heading := regexp.MustCompile("(?m)^### `?(Bosun[A-Za-z]+)`?$")
	var sections []string
	for _, m := range heading.FindAllStringSubmatch(string(readFile(t, monitoringDoc)), -1) {
		sections = append(sections, m[1])
	}
	for name := range wantAlerts {
		if !slices.Contains(sections, name) {
			t.Errorf("docs/monitoring.md has no section ### %s", name)
		}
	}
	for _, name := range sections {
		if _, ok := wantAlerts[name]; !ok {
			t.Errorf("docs/monitoring.md has a section for %s, which is not an alert of the rules", name)
		}
	}
}
