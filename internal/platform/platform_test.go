package platform

import (
	"testing"

	"github.com/bosun-mesh/bosun/internal/values"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		want    values.Platform
		auto    bool
		wantErr bool
	}{
		{in: "", auto: true},
		{in: "auto", auto: true},
		{in: "kubernetes", want: values.Kubernetes},
		{in: "openshift", want: values.OpenShift},
		{in: "OpenShift", wantErr: true},
		{in: "gke", wantErr: true},
	}
	for _, tc := range cases {
		got, auto, err := Parse(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want || auto != tc.auto {
			t.Errorf("Parse(%q) = %q, %v, %v", tc.in, got, auto, err)
		}
	}
}
