package values

import (
	"strings"
	"testing"

	"github.com/bosun-mesh/bosun/internal/catalog"
)

// testImages pins every component, as a vendor catalog would.
var testImages = catalog.Images{
	Istiod:  "registry.example.com/istio/pilot:1.27.3",
	Proxy:   "registry.example.com/istio/proxyv2:1.27.3",
	CNI:     "registry.example.com/istio/install-cni:1.27.3",
	ZTunnel: "registry.example.com/istio/ztunnel:1.27.3",
}

// TestImagePins checks which image each component's values name when the catalog pins images: the
// pin, unless the user chose the component's image, in which case nothing of the pin is left.
func TestImagePins(t *testing.T) {
	const (
		pilotImage     = "pilot.image"
		proxyImage     = "global.proxy.image"
		proxyInitImage = "global.proxy_init.image"
		cniImage       = "cni.image"
		ztunnelImage   = "image" // the chart reads ztunnel's section at the top level
	)
	cases := []struct {
		name   string
		images catalog.Images
		user   Map
		// revision is the ZTunnel's target revision's values.
		revision Map
		// want maps a values path of each component's chart to what it must be; "" means absent, so
		// the chart makes the image from hub, image and tag.
		want map[string]string
	}{
		{
			name:   "no pins: the charts' own images",
			images: catalog.Images{},
			want:   map[string]string{pilotImage: "", proxyImage: "", proxyInitImage: "", cniImage: "", ztunnelImage: ""},
		},
		{
			name:   "pins beat the charts' defaults",
			images: testImages,
			want: map[string]string{pilotImage: testImages.Istiod, proxyImage: testImages.Proxy, proxyInitImage: testImages.Proxy,
				cniImage: testImages.CNI, ztunnelImage: testImages.ZTunnel},
		},
		{
			name:   "a pin of one component leaves the others to their charts",
			images: catalog.Images{Proxy: testImages.Proxy},
			want:   map[string]string{pilotImage: "", proxyImage: testImages.Proxy, proxyInitImage: testImages.Proxy, cniImage: "", ztunnelImage: ""},
		},
		{
			name:   "the user's global hub beats every pin",
			images: testImages,
			user:   Map{"global": Map{"hub": "mirror.example.com/istio"}},
			want:   map[string]string{pilotImage: "", proxyImage: "", proxyInitImage: "", cniImage: "", ztunnelImage: ""},
		},
		{
			name:   "the user's global tag beats every pin",
			images: testImages,
			user:   Map{"global": Map{"tag": "1.27.4"}},
			want:   map[string]string{pilotImage: "", proxyImage: "", proxyInitImage: "", cniImage: "", ztunnelImage: ""},
		},
		{
			name:   "the user's global variant beats every pin, which has none",
			images: testImages,
			user:   Map{"global": Map{"variant": "distroless"}},
			want:   map[string]string{pilotImage: "", proxyImage: "", proxyInitImage: "", cniImage: "", ztunnelImage: ""},
		},
		{
			name:   "the user's pilot hub skips istiod's pin only",
			images: testImages,
			user:   Map{"pilot": Map{"hub": "mirror.example.com/istio"}, "cni": Map{"hub": "mirror.example.com/istio"}, "ztunnel": Map{"hub": "mirror.example.com/istio"}},
			want: map[string]string{pilotImage: "", proxyImage: testImages.Proxy, proxyInitImage: testImages.Proxy,
				cniImage: "", ztunnelImage: ""},
		},
		{
			name:   "the user's own image of a component is kept, the others pinned",
			images: testImages,
			user: Map{"pilot": Map{"image": "mirror.example.com/pilot:x"}, "cni": Map{"tag": "1.27.4"},
				"ztunnel": Map{"image": "mirror.example.com/ztunnel:x"}},
			want: map[string]string{pilotImage: "mirror.example.com/pilot:x", proxyImage: testImages.Proxy, proxyInitImage: testImages.Proxy,
				cniImage: "", ztunnelImage: "mirror.example.com/ztunnel:x"},
		},
		{
			name:   "the user's proxy image skips the proxy pin, init container included",
			images: testImages,
			user:   Map{"global": Map{"proxy": Map{"image": "mirror.example.com/proxyv2:x"}}},
			want: map[string]string{pilotImage: testImages.Istiod, proxyImage: "mirror.example.com/proxyv2:x", proxyInitImage: "",
				cniImage: testImages.CNI, ztunnelImage: testImages.ZTunnel},
		},
		{
			name:   "the user's init image skips the proxy pin, so both follow the chart",
			images: testImages,
			user:   Map{"global": Map{"proxy_init": Map{"image": "proxyv2"}}},
			want: map[string]string{pilotImage: testImages.Istiod, proxyImage: "", proxyInitImage: "proxyv2",
				cniImage: testImages.CNI, ztunnelImage: testImages.ZTunnel},
		},
		{
			name:     "a global hub of ztunnel's target revision skips ztunnel's pin",
			images:   testImages,
			revision: Map{"global": Map{"hub": "mirror.example.com/istio"}},
			want: map[string]string{pilotImage: testImages.Istiod, proxyImage: testImages.Proxy, proxyInitImage: testImages.Proxy,
				cniImage: testImages.CNI, ztunnelImage: ""},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cp, err := ControlPlane(ControlPlaneInput{Profiles: testProfiles(), Images: tc.images, User: tc.user, Revision: "default", Namespace: "istio-system"})
			if err != nil {
				t.Fatal(err)
			}
			cni, err := CNI(CNIInput{Profiles: testProfiles(), Images: tc.images, User: tc.user})
			if err != nil {
				t.Fatal(err)
			}
			zt, err := ZTunnel(ZTunnelInput{Profiles: testProfiles(), Images: tc.images, User: tc.user, Revision: tc.revision})
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				vals := cp
				switch path {
				case cniImage:
					vals = cni
				case ztunnelImage:
					vals = zt
				}
				got, _ := Get(vals, strings.Split(path, ".")...)
				if want == "" && got != nil || want != "" && got != want {
					t.Errorf("%s = %v, want %q", path, got, want)
				}
			}
		})
	}
}

// TestPinsStayInTheirChart checks that a pin reaches only the chart of its component: istiod's values
// carry no CNI or ztunnel image, which would be refused by IstioRevision's schema.
func TestPinsStayInTheirChart(t *testing.T) {
	cp, err := ControlPlane(ControlPlaneInput{Profiles: testProfiles(), Images: testImages, Revision: "default", Namespace: "istio-system"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cni", "ztunnel", "image"} {
		if _, ok := cp[k]; ok {
			t.Errorf("control-plane values have %s: %v", k, cp[k])
		}
	}
	cni, err := CNI(CNIInput{Profiles: testProfiles(), Images: testImages})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Get(cni, "pilot"); ok {
		t.Errorf("CNI values have pilot's image")
	}
	if _, ok := Get(cni, "global", "proxy"); ok {
		t.Errorf("CNI values have the proxy image")
	}
}
