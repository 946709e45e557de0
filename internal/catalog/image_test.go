package catalog

import (
	"strings"
	"testing"
)

// TestImageReferenceBoundaries: a pin is refused exactly where a registry or the kubelet would refuse
// it, or where it would not say which registry and build it means; each refusal ends with an example.
func TestImageReferenceBoundaries(t *testing.T) {
	hex64 := strings.Repeat("0f", 32)
	// name returns a registry and repository of exactly n characters.
	name := func(n int) string {
		const host = "registry.example.com/"
		return host + strings.Repeat("a", n-len(host))
	}
	cases := []struct {
		ref  string
		want string // "" when accepted
	}{
		{ref: name(255) + ":1"},
		{ref: name(256) + ":1", want: "has a name longer than 255 characters"},
		{ref: "docker.io/istio/pilot:" + strings.Repeat("t", 128)},
		{ref: "docker.io/istio/pilot:" + strings.Repeat("t", 129), want: "is not an image reference"},
		{ref: "docker.io/istio/pilot:_build.1-x"},
		{ref: "docker.io/istio/pilot:.1", want: "is not an image reference"},
		{ref: "docker.io/istio/pilot@sha512:" + hex64 + hex64},
		{ref: "docker.io/istio/pilot@sha256:" + strings.Repeat("a", 32)},
		{ref: "docker.io/istio/pilot@sha256:" + strings.Repeat("a", 31), want: "is not an image reference"},
		{ref: "docker.io/istio/pilot@SHA256:" + hex64, want: "is not an image reference"},
		{ref: "Registry.Example.COM/istio/pilot:1"},
		{ref: "registry-1.docker.io/istio/pilot:1"},
		{ref: "-registry.example.com/istio/pilot:1", want: "is not an image reference"},
		{ref: "registry.example.com:port/istio/pilot:1", want: "is not an image reference"},
		{ref: "registry:5000/pilot:1"},
		{ref: "registry/pilot:1", want: "does not name its registry"},
		{ref: "localhost/pilot@sha256:" + hex64},
		{ref: "docker.io/istio__x/pi-lot.v2_a:1"},
		{ref: "docker.io/istio_/pilot:1", want: "is not an image reference"},
		{ref: "docker.io/istio/pilot/:1", want: "is not an image reference"},
		{ref: "docker.io//pilot:1", want: "is not an image reference"},
		{ref: "docker.io/istio/pilot:", want: "is not an image reference"},
		{ref: "", want: "is not an image reference"},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			err := checkImageReference(tc.ref)
			if tc.want == "" {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			if want := `"` + tc.ref + `" ` + tc.want + "; " + fullReferenceHint; err.Error() != want {
				t.Errorf("error\n%v\nwant\n%s", err, want)
			}
		})
	}
}
