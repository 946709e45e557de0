//go:build integration

package apply_test

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/bosun-mesh/bosun/internal/apply"
)

// TestNotOursErrorWithoutManagersSaysToDelete: an object whose managedFields someone cleared
// (kubectl patch ... managedFields [{}], or a restore tool that drops them) has no field manager, so no
// --adopt-from value can let bosun take it over: the refusal says to delete it, and gives no flag.
func TestNotOursErrorWithoutManagersSaysToDelete(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mesh", Namespace: e.ns}}
	if err := e.c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Patch(ctx, cm, client.RawPatch(types.JSONPatchType, []byte(`[{"op":"replace","path":"/metadata/managedFields","value":[{}]}]`))); err != nil {
		t.Fatal(err)
	}
	if m := e.get("ConfigMap", "v1", "mesh").GetManagedFields(); len(m) != 0 {
		t.Fatalf("managedFields after clearing them: %v", m)
	}
	_, err := e.applier.Apply(ctx, apply.Component{Owner: e.owner, Objects: e.objects(1, "a")})
	var notOurs *apply.NotOursError
	if !errors.As(err, &notOurs) {
		t.Fatalf("Apply returned %v, want a refusal", err)
	}
	if strings.Contains(err.Error(), "--adopt-from") || !strings.Contains(err.Error(), "delete it, and bosun creates it") {
		t.Errorf("the refusal of an object without field managers must say to delete it, and name no flag:\n%s", err)
	}
}
