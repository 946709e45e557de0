package metrics

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// APIWrites counts the write requests the operator sends to the API server (POST, PUT, PATCH,
// DELETE), by verb and resource, dry runs aside. A converged operator sends none but its leader
// election renewals (resource "leases").
var APIWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "bosun_api_writes_total",
	Help: "Write requests bosun sent to the API server, by HTTP verb and resource (dry runs not counted).",
}, []string{"verb", "resource"})

func init() {
	crmetrics.Registry.MustRegister(APIWrites)
}

// CountWrites wraps a transport so that every write request through it is counted in APIWrites. Use
// it as a rest.Config's WrapTransport.
func CountWrites(rt http.RoundTripper) http.RoundTripper {
	return roundTripper{next: rt}
}

type roundTripper struct{ next http.RoundTripper }

func (r roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		if req.URL.Query().Get("dryRun") == "" {
			APIWrites.WithLabelValues(req.Method, Resource(req.URL.Path)).Inc()
		}
	}
	return r.next.RoundTrip(req)
}

// Resource is the resource a request path addresses, with its subresource: "deployments",
// "istiorevisions/status". Paths: /api/v1/[namespaces/NS/]RES[/NAME[/SUB]] and
// /apis/GROUP/VERSION/[namespaces/NS/]RES[/NAME[/SUB]].
func Resource(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return "other"
	}
	// namespaces/NS/RES… is a namespaced resource, except namespaces/NS/status and /finalize: the
	// subresources of namespace NS, for which no namespaced resource of those names exists.
	if len(parts) >= 3 && parts[0] == "namespaces" && !(len(parts) == 3 && (parts[2] == "status" || parts[2] == "finalize")) {
		parts = parts[2:]
	}
	switch len(parts) {
	case 0:
		return "namespaces"
	case 1, 2:
		return parts[0]
	default:
		return parts[0] + "/" + parts[2]
	}
}
