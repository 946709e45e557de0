package monitoring

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"
)

// The files under test, from this package's directory.
const (
	chartDir      = "../../../chart"
	chartRules    = chartDir + "/files/prometheus/bosun-rules.yaml"
	deployRules   = "../../../deploy/prometheus/bosun-rules.yaml"
	dashboardFile = chartDir + "/files/dashboards/bosun.json"
	operatorDoc   = "../../../docs/operator.md"
	monitoringDoc = "../../../docs/monitoring.md"
)

// renderChart renders the chart as `helm template bosun chart --namespace bosun-system --set set`
// does, schema check included, and returns each template's output by its file name
// (prometheusrule.yaml). An empty set renders the default values.
func renderChart(t *testing.T, set string) (map[string]string, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{}
	if set != "" {
		if vals, err = strvals.Parse(set); err != nil {
			t.Fatal(err)
		}
	}
	top, err := util.ToRenderValuesWithSchemaValidation(chrt, vals,
		common.ReleaseOptions{Name: "bosun", Namespace: "bosun-system", IsInstall: true}, nil, false)
	if err != nil {
		return nil, err
	}
	rendered, err := engine.Render(chrt, top)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, text := range rendered {
		out[filepath.Base(name)] = text
	}
	return out, nil
}

// renderedObject renders the chart with set and returns the one object that template renders.
func renderedObject(t *testing.T, set, template string) map[string]any {
	t.Helper()
	rendered, err := renderChart(t, set)
	if err != nil {
		t.Fatalf("--set %s: %v", set, err)
	}
	text := strings.TrimSpace(rendered[template])
	if text == "" {
		t.Fatalf("--set %s renders nothing in %s", set, template)
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(text), &obj); err != nil {
		t.Fatalf("%s, --set %s: %v\n%s", template, set, err, text)
	}
	return obj
}

// TestDefaultValuesRenderNoMonitoring: the dashboard and the rules are off by default, so the chart's
// default install (and deploy/bosun.yaml) has neither a ConfigMap nor a PrometheusRule, which would
// fail on a cluster without the Prometheus operator's CRDs.
func TestDefaultValuesRenderNoMonitoring(t *testing.T) {
	rendered, err := renderChart(t, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, template := range []string{"dashboard.yaml", "prometheusrule.yaml"} {
		if text, ok := rendered[template]; !ok || strings.TrimSpace(text) != "" {
			t.Errorf("the default values render %d bytes from %s (present: %v), want the template present and rendering nothing", len(strings.TrimSpace(text)), template, ok)
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
