// Package monitoring holds the tests of bosun's Grafana dashboard (chart/files/dashboards/bosun.json)
// and Prometheus alerting rules (chart/files/prometheus/bosun-rules.yaml, copied to
// deploy/prometheus/), as the chart ships them: the rules go through Prometheus's own rules parser,
// every query through its PromQL parser, and every metric and label they name must be one bosun
// serves as docs/operator.md documents it. It lives in the tools module so that Prometheus's module
// never becomes a dependency of the operator.
package monitoring
