package catalog

import (
	"fmt"
	"regexp"
	"strings"
)

// The grammar of an image reference, as container registries and the kubelet read it: a registry
// host (with an optional port), one or more lower-case path components, then a tag, a digest or both.
var (
	registryHost  = `(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:[.](?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?`
	pathComponent = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	imageTag      = `[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}`
	imageDigest   = `[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}`

	// imageReference captures the registry host, the whole name (host and repository), the tag and
	// the digest.
	imageReference = regexp.MustCompile(`^((` + registryHost + `)/` + pathComponent + `(?:/` + pathComponent + `)*)` +
		`(?::(` + imageTag + `))?(?:@(` + imageDigest + `))?$`)
)

// maxNameOfImage is the longest registry and repository name a registry accepts.
const maxNameOfImage = 255

// fullReferenceHint ends every refusal of a pin with an example of a good one.
const fullReferenceHint = "write a full image reference: registry, repository and a tag or digest, such as docker.io/istio/pilot:1.27.3 or registry.example.com/istio/pilot@sha256:<64 hex digits>"

// checkImageReference accepts a full image reference: one that names its registry (so that no runtime
// default applies, and so that Istio's charts, which take a value with a "/" as the whole reference,
// use it as written) and a tag or a digest (so that it never means whatever latest is today).
func checkImageReference(ref string) error {
	m := imageReference.FindStringSubmatch(ref)
	var problem string
	switch {
	case m == nil:
		problem = "is not an image reference"
	case !strings.ContainsAny(m[2], ".:") && m[2] != "localhost":
		problem = "does not name its registry"
	case m[3] == "" && m[4] == "":
		problem = "has neither a tag nor a digest"
	case len(m[1]) > maxNameOfImage:
		problem = fmt.Sprintf("has a name longer than %d characters", maxNameOfImage)
	default:
		return nil
	}
	return fmt.Errorf("%q %s; %s", ref, problem, fullReferenceHint)
}
