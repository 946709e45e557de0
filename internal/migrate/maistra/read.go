package maistra

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ErrNoMaistraAPI is returned by Read when the cluster serves no ServiceMeshControlPlane: it has
// no OpenShift Service Mesh 2 to migrate from.
var ErrNoMaistraAPI = fmt.Errorf("the cluster serves no %s.%s/v2: there is no OpenShift Service Mesh 2 to migrate from", KindControlPlane, Group)

// Read lists the control planes, member rolls and members of the namespace (every namespace when it
// is empty) and decodes them as Decode does.
func Read(ctx context.Context, c client.Reader, namespace string) (*Inputs, error) {
	var objs []*unstructured.Unstructured
	for _, gvk := range []schema.GroupVersionKind{
		{Group: Group, Version: "v2", Kind: KindControlPlane + "List"},
		{Group: Group, Version: "v1", Kind: KindMemberRoll + "List"},
		{Group: Group, Version: "v1", Kind: KindMember + "List"},
	} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk)
		if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
			if meta.IsNoMatchError(err) {
				if gvk.Kind == KindControlPlane+"List" {
					return nil, ErrNoMaistraAPI
				}
				continue
			}
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			objs = append(objs, &list.Items[i])
		}
	}
	return Decode(objs)
}
