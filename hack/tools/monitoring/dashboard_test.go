package monitoring

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The parts of a Grafana dashboard's JSON model that the tests read.
type (
	dashboard struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []variable `json:"list"`
		} `json:"templating"`
		Panels []panel `json:"panels"`
	}
	datasourceRef struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	variable struct {
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Query      json.RawMessage `json:"query"`
		Datasource *datasourceRef  `json:"datasource"`
	}
	panel struct {
		ID         int            `json:"id"`
		Type       string         `json:"type"`
		Title      string         `json:"title"`
		Datasource *datasourceRef `json:"datasource"`
		GridPos    struct {
			H int `json:"h"`
			W int `json:"w"`
			X int `json:"x"`
			Y int `json:"y"`
		} `json:"gridPos"`
		Targets []struct {
			RefID        string         `json:"refId"`
			Expr         string         `json:"expr"`
			LegendFormat string         `json:"legendFormat"`
			Datasource   *datasourceRef `json:"datasource"`
		} `json:"targets"`
		// Panels are those of a collapsed row.
		Panels []panel `json:"panels"`
	}
)

// promDatasource is the reference every panel and query must make: to the data source the
// dashboard's datasource variable chooses, rather than to Grafana's default one.
var promDatasource = datasourceRef{Type: "prometheus", UID: "${datasource}"}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, dashboardFile), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels returns the dashboard's panels, those of collapsed rows included, rows aside.
func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" {
				out = append(out, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// queryText returns a query variable's query, which Grafana stores as a string or, from its query
// editor, as an object.
func (v variable) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	json.Unmarshal(v.Query, &o) //nolint:errcheck // An unreadable query is returned empty, and fails the test.
	return o.Query
}

// Grafana's variables in a query: $name, ${name}, ${name:format} and [[name]].
var grafanaVariable = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// substitute replaces the variables of a dashboard query as Grafana does before sending it to
// Prometheus: its intervals by a duration, the dashboard's own variables by the value of All (.*).
// It returns an error for a variable that is neither.
func substitute(expr string, defined map[string]bool) (string, error) {
	var err error
	out := grafanaVariable.ReplaceAllStringFunc(expr, func(v string) string {
		m := grafanaVariable.FindStringSubmatch(v)
		name := m[1] + m[2] + m[3]
		switch {
		case name == "__rate_interval" || name == "__interval" || name == "__range":
			return "5m"
		case defined[name]:
			return ".*"
		default:
			err = fmt.Errorf("variable $%s is not defined by the dashboard", name)
			return v
		}
	})
	return out, err
}

// dashboardQueries returns every PromQL expression of the dashboard, variables substituted, with the
// labels each legend prints; and the metric selector of each label_values variable, with its label.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	d := readDashboard(t)
	defined := map[string]bool{}
	for _, v := range d.Templating.List {
		defined[v.Name] = true
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	legendLabel := regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
	var out []query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.queryText())
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, v.queryText())
			continue
		}
		out = append(out, query{where: "variable " + v.Name, expr: m[1], labels: []string{m[2]}})
	}
	for _, p := range d.allPanels() {
		for _, target := range p.Targets {
			where := fmt.Sprintf("panel %q, query %s", p.Title, target.RefID)
			expr, err := substitute(target.Expr, defined)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			q := query{where: where, expr: expr}
			for _, m := range legendLabel.FindAllStringSubmatch(target.LegendFormat, -1) {
				q.labels = append(q.labels, m[1])
			}
			out = append(out, q)
		}
	}
	return out
}

// TestDashboard: the dashboard is one Grafana loads as it is (a current schema version), asks which
// Prometheus to read and which Istios to show, reads that Prometheus in every panel, and lays its
// panels out without overlap; its queries are checked by TestQueriesUseServedMetrics.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: want both", d.UID, d.Title)
	}
	// A current Grafana's schema version: Grafana migrates an older dashboard each time it loads it.
	if d.SchemaVersion < 41 {
		t.Errorf("schemaVersion %d, want at least 41", d.SchemaVersion)
	}
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v := vars["datasource"]; v.Type != "datasource" || v.queryText() != "prometheus" {
		t.Errorf("variable datasource: type %q, query %q; want a datasource variable of Prometheus data sources", v.Type, v.queryText())
	}
	if v := vars["istio"]; v.Type != "query" || !strings.HasPrefix(v.queryText(), "label_values(") || v.Datasource == nil || *v.Datasource != promDatasource {
		t.Errorf("variable istio: type %q, query %q, datasource %v; want label_values(…, istio) from ${datasource}", v.Type, v.queryText(), v.Datasource)
	}

	panels := d.allPanels()
	if len(panels) < 15 {
		t.Errorf("%d panels, want at least 15", len(panels))
	}
	ids := map[int]string{}
	titles := map[string]bool{}
	for _, p := range panels {
		if other, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", p.Title, other, p.ID)
		}
		ids[p.ID] = p.Title
		// docs/monitoring.md describes each panel by its title.
		if titles[p.Title] || p.Title == "" {
			t.Errorf("panel title %q is empty or not unique", p.Title)
		}
		titles[p.Title] = true
		if p.Datasource == nil || *p.Datasource != promDatasource {
			t.Errorf("panel %q reads datasource %v, want %v", p.Title, p.Datasource, promDatasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			if target.Datasource == nil || *target.Datasource != promDatasource {
				t.Errorf("panel %q, query %s reads datasource %v, want %v", p.Title, target.RefID, target.Datasource, promDatasource)
			}
		}
	}

	// Grafana's grid is 24 columns wide; an overlap would hide one panel under another.
	type box struct {
		title      string
		x, y, w, h int
	}
	var boxes []box
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
				t.Errorf("panel %q at %+v does not fit Grafana's 24 columns", p.Title, g)
			}
			for _, b := range boxes {
				if g.X < b.x+b.w && b.x < g.X+g.W && g.Y < b.y+b.h && b.y < g.Y+g.H {
					t.Errorf("panel %q at %+v overlaps panel %q", p.Title, g, b.title)
				}
			}
			boxes = append(boxes, box{p.Title, g.X, g.Y, g.W, g.H})
			walk(p.Panels)
		}
	}
	walk(d.Panels)
}

// TestPanelsAreDocumented: docs/monitoring.md describes each panel, by its title in bold.
func TestPanelsAreDocumented(t *testing.T) {
	doc := string(readFile(t, monitoringDoc))
	for _, p := range readDashboard(t).allPanels() {
		if !strings.Contains(doc, "**"+p.Title+"**") {
			t.Errorf("docs/monitoring.md does not describe panel %q (as **%s**)", p.Title, p.Title)
		}
	}
}

// TestDashboardConfigMap: with monitoring.dashboard.enabled the chart renders a ConfigMap holding the
// dashboard file as it is, with the label Grafana's sidecar watches (grafana_dashboard: "1" unless
// told another), in the namespace and with the annotations asked for.
func TestDashboardConfigMap(t *testing.T) {
	file := strings.TrimSuffix(string(readFile(t, dashboardFile)), "\n")
	for _, c := range []struct {
		set         string
		namespace   string
		label       string
		value       string
		annotations map[string]any
	}{
		{set: "monitoring.dashboard.enabled=true", namespace: "bosun-system", label: "grafana_dashboard", value: "1"},
		{
			set:       "monitoring.dashboard.enabled=true,monitoring.dashboard.label=example.com/dashboard,monitoring.dashboard.labelValue=2,monitoring.dashboard.namespace=monitoring,monitoring.dashboard.annotations.grafana_folder=Istio",
			namespace: "monitoring", label: "example.com/dashboard", value: "2", annotations: map[string]any{"grafana_folder": "Istio"},
		},
	} {
		obj := renderedObject(t, c.set, "dashboard.yaml")
		meta, _ := obj["metadata"].(map[string]any)
		objLabels, _ := meta["labels"].(map[string]any)
		if obj["kind"] != "ConfigMap" || meta["namespace"] != c.namespace {
			t.Errorf("--set %s: a %v in namespace %v, want a ConfigMap in %s", c.set, obj["kind"], meta["namespace"], c.namespace)
		}
		if objLabels[c.label] != c.value {
			t.Errorf("--set %s: labels %v, want %s: %q among them", c.set, objLabels, c.label, c.value)
		}
		if c.annotations != nil && fmt.Sprint(meta["annotations"]) != fmt.Sprint(c.annotations) {
			t.Errorf("--set %s: annotations %v, want %v", c.set, meta["annotations"], c.annotations)
		}
		data, _ := obj["data"].(map[string]any)
		if data["bosun.json"] != file {
			t.Errorf("--set %s: the ConfigMap's bosun.json is not %s as it is", c.set, dashboardFile)
		}
	}
}
