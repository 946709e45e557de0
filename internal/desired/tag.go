package desired

import (
	"fmt"

	v1 "github.com/bosun-mesh/bosun/api/v1"
	"github.com/bosun-mesh/bosun/internal/render"
	"github.com/bosun-mesh/bosun/internal/values"
)

// tagTemplates are the istiod chart's templates of a revision tag.
var tagTemplates = []string{"revision-tags.yaml", "revision-tags-mwc.yaml", "revision-tags-svc.yaml"}

// ForTag decides an IstioRevisionTag: the revision its webhook points at (Resolve, from its targetRef
// and the revision its status names), and the charts for that revision: the istiod chart's tag webhook
// and service and, for the tag named default, the base chart's default validator pointing at the
// revision. It is refused when an older IstioRevision holds its name (NameAlreadyExists), when its
// target does not exist (RefNotFound) and when the target is a remote revision, whose istiod runs in
// another cluster.
func (e Env) ForTag(tag *v1.IstioRevisionTag, f *Facts) Plan {
	if r := tagNameRefusal(tag, f); r != nil {
		return refused(r)
	}
	target, next, refusal := e.Resolve(tag.Spec.TargetRef, tag.Status.IstioRevision, f)
	if refusal != nil {
		return refused(refusal)
	}
	if IsRemote(target) {
		return refused(invalid(fmt.Errorf("IstioRevision %s is a remote revision (its istiod runs in another cluster): a tag cannot point at a remote revision, because bosun does not support revision tags across clusters; point the tag at a local revision", target.Name)))
	}
	version, _, vals, err := e.inputs(string(target.Spec.Version), target.Spec.Values)
	if err != nil {
		return refused(invalid(fmt.Errorf("IstioRevision %s: %w", target.Name, err)))
	}
	owner := render.Owner{Kind: v1.KindIstioRevisionTag, Name: tag.Name}
	plan := Plan{Target: target, Next: next}
	plan.Charts = append(plan.Charts, render.Request{
		Version: version.Name, Chart: render.ChartIstiod, Namespace: target.Spec.Namespace,
		ReleaseName: tag.Name + "-revisiontags", Owner: owner, Templates: tagTemplates,
		Values: values.Merge(vals, values.Map{"revisionTags": []any{tag.Name}}),
	})
	if tag.Name == v1.SingletonName {
		plan.Charts = append(plan.Charts, render.Request{
			Version: version.Name, Chart: render.ChartBase, Namespace: target.Spec.Namespace,
			ReleaseName: "default-base", Owner: owner,
			Values: values.Merge(vals, values.Map{"defaultRevision": target.Name}),
		})
	}
	return plan
}
