package catalog

import (
	"slices"
	"testing"
)

// TestConcreteNamesNeverHoldAliases: ConcreteNames promises "never aliases", also when a vendor marks
// the alias latest end of life.
func TestConcreteNamesNeverHoldAliases(t *testing.T) {
	c, err := Parse([]byte(`
default: v1.27.0
versions:
  - {name: v1.27.0, module: istio.io/istio, moduleVersion: v0.0.0-x}
endOfLife: [latest, v1.24-latest, v1.24.3]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.ConcreteNames(), []string{"v1.27.0", "v1.24.3"}; !slices.Equal(got, want) {
		t.Errorf("ConcreteNames = %v, want %v", got, want)
	}
}
