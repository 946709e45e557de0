package monitoring

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// promql parses the expressions of the rules and the dashboard as Prometheus does.
var promql = parser.NewParser(parser.Options{})

// scrapeLabels are the labels Prometheus adds to every series it scrapes.
var scrapeLabels = []string{"instance", "job"}

// controllerRuntime lists the metrics of controller-runtime and client-go that the dashboard and the
// rules use, with their labels: the operator serves them beside its own.
var controllerRuntime = map[string][]string{
	"controller_runtime_reconcile_total":        {"controller", "result"},
	"controller_runtime_reconcile_errors_total": {"controller"},
	"workqueue_depth":                           {"name"},
	"leader_election_master_status":             {"name"},
}

// documented reads the Metrics table of docs/operator.md: each bosun metric's labels, by name. It
// reads the rows as internal/metrics/docs_test.go does.
func documented(t *testing.T) map[string][]string {
	t.Helper()
	row := regexp.MustCompile("^\\| `(bosun_[a-z_]+)` \\| ([a-z]+) \\| ([^|]*) \\|")
	label := regexp.MustCompile("`([a-z_]+)`")
	out := map[string][]string{}
	for line := range strings.SplitSeq(string(readFile(t, operatorDoc)), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		out[m[1]] = []string{}
		for _, l := range label.FindAllStringSubmatch(m[3], -1) {
			out[m[1]] = append(out[m[1]], l[1])
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no Metrics table rows", operatorDoc)
	}
	return out
}

// served returns the metrics the dashboard and the rules may use, with their labels: bosun's as
// documented, and controller-runtime's.
func served(t *testing.T) map[string][]string {
	t.Helper()
	out := documented(t)
	maps.Copy(out, controllerRuntime)
	return out
}

// query is one PromQL expression of the dashboard or the rules, with the labels its text refers to
// beside the expression: a legend's {{label}}, an annotation's $labels.label.
type query struct {
	where  string
	expr   string
	labels []string
}

// queryErrors parses q's expression and returns what is wrong with it: a parse error, a metric that
// is not served (or a selector without a metric name), a label that none of the expression's metrics
// has, in a matcher, in by, without, on, ignoring or group_left/right, or in q.labels.
func queryErrors(known map[string][]string, q query) []string {
	expr, err := promql.ParseExpr(q.expr)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v\n%s", q.where, err, q.expr)}
	}
	var errs []string
	// A label is looked for among those of the metrics under the node that names it. Under an
	// unknown metric, which is an error of its own, any label goes (nil).
	labelsUnder := func(n parser.Node) []string {
		out := slices.Clone(scrapeLabels)
		parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				l, ok := known[metricName(vs)]
				if !ok {
					out = nil
					return errors.New("unknown metric")
				}
				out = append(out, l...)
			}
			return nil
		})
		return out
	}
	check := func(what string, names []string, have []string) {
		for _, l := range names {
			if have != nil && !slices.Contains(have, l) {
				errs = append(errs, fmt.Sprintf("%s: %s names label %q, which none of its metrics has (%s)", q.where, what, l, q.expr))
			}
		}
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := metricName(n)
			l, ok := known[name]
			switch {
			case name == "":
				errs = append(errs, fmt.Sprintf("%s: selector %s has no metric name", q.where, n))
			case !ok && strings.HasPrefix(name, "bosun_"):
				errs = append(errs, fmt.Sprintf("%s: %s is not in docs/operator.md's Metrics table (%s)", q.where, name, q.expr))
			case !ok:
				errs = append(errs, fmt.Sprintf("%s: %s is neither bosun's nor one of the controller-runtime metrics this test knows (%s)", q.where, name, q.expr))
			}
			if ok {
				for _, m := range n.LabelMatchers {
					if m.Name != labels.MetricName {
						check("the selector of "+name, []string{m.Name}, append(slices.Clone(scrapeLabels), l...))
					}
				}
			}
		case *parser.AggregateExpr:
			check(n.Op.String()+"'s grouping", n.Grouping, labelsUnder(n.Expr))
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				var have []string
				if lhs, rhs := labelsUnder(n.LHS), labelsUnder(n.RHS); lhs != nil && rhs != nil {
					have = append(lhs, rhs...)
				}
				check("the vector matching", n.VectorMatching.MatchingLabels, have)
				check("the group modifier", n.VectorMatching.Include, have)
			}
		}
		return nil
	})
	check("the text beside it", q.labels, labelsUnder(expr))
	return errs
}

// metricName is the name a selector selects by, or "" if it names none.
func metricName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// TestQueriesUseServedMetrics: every metric and label the alerting rules and the dashboard's queries
// name is one the operator serves, so that no alert stays silent and no panel empty for a misspelt
// name. The expressions are parsed by Prometheus's PromQL parser.
func TestQueriesUseServedMetrics(t *testing.T) {
	known := served(t)
	queries := append(ruleQueries(t), dashboardQueries(t)...)
	if len(queries) < 20 {
		t.Fatalf("found %d queries in the rules and the dashboard, want at least 20", len(queries))
	}
	for _, q := range queries {
		for _, err := range queryErrors(known, q) {
			t.Error(err)
		}
	}
}

// TestQueryErrors: the check finds the mistakes it is there for, and only those.
func TestQueryErrors(t *testing.T) {
	known := map[string][]string{"bosun_revision_ready": {"istio", "revision"}}
	for _, c := range []struct {
		expr   string
		labels []string
		errors int
	}{
		{expr: `max by (istio, revision) (bosun_revision_ready{istio=~".*", job="bosun"}) == 0`, labels: []string{"revision"}},
		{expr: `count(bosun_revision_ready == 0) or vector(0)`},
		{expr: `bosun_revision_ready and on (instance) bosun_revision_ready`},
		{expr: `up{job="bosun"}`, errors: 1},
		{expr: `bosun_revison_ready`, errors: 1},
		{expr: `{revision="default"}`, errors: 1},
		{expr: `max by (revison) (bosun_revision_ready)`, errors: 1},
		{expr: `bosun_revision_ready{cluster="a"}`, errors: 1},
		{expr: `bosun_revision_ready * on (version) bosun_revision_ready`, errors: 1},
		{expr: `bosun_revision_ready * on (revision) group_left (version) bosun_revision_ready`, errors: 1},
		{expr: `bosun_revision_ready`, labels: []string{"version"}, errors: 1},
		{expr: `max by (istio) (bosun_revision_ready`, errors: 1},
	} {
		if errs := queryErrors(known, query{where: "case", expr: c.expr, labels: c.labels}); len(errs) != c.errors {
			t.Errorf("%s: %d errors %q, want %d", c.expr, len(errs), errs, c.errors)
		}
	}
}
