// Command bundlecheck validates an OLM bundle directory with operator-framework's own validators (the
// ones `operator-sdk bundle validate` runs): the bundle, its ClusterServiceVersion and CRDs, the
// OperatorHub requirements, good practices and deprecated APIs. It prints every finding and fails on
// any error, and on warnings too unless they are listed in -allow.
//
// It lives in the tools module so that operator-framework/api never becomes a dependency of bosun.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
	interfaces "github.com/operator-framework/api/pkg/validation/interfaces"
)

func main() {
	dir := flag.String("dir", "bin/bundle", "the bundle directory (manifests/, metadata/)")
	k8s := flag.String("k8s-version", "1.36", "the Kubernetes version whose removed APIs the bundle must not use")
	flag.Parse()
	problems, err := check(*dir, *k8s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundlecheck:", err)
		os.Exit(1)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "bundlecheck:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Printf("bundlecheck: %s passes operator-framework's bundle, CSV, CRD, OperatorHub, good-practice and deprecated-API validators\n", *dir)
}

// check loads the bundle and runs the validators; it returns every error and warning.
func check(dir, k8s string) ([]string, error) {
	bundle, err := manifests.GetBundleFromDir(dir)
	if err != nil {
		return nil, err
	}
	validators := append(interfaces.Validators{}, validation.DefaultBundleValidators...)
	validators = append(validators, validation.OperatorHubV2Validator, validation.StandardCategoriesValidator,
		validation.StandardCapabilitiesValidator, validation.GoodPracticesValidator, validation.AlphaDeprecatedAPIsValidator)
	objs := append(bundle.ObjectsToValidate(), map[string]string{"k8s-version": k8s})
	internal := internalObjects(bundle.CSV.GetAnnotations()["operators.operatorframework.io/internal-objects"])
	var problems []string
	for _, result := range validators.Validate(objs...) {
		for _, e := range result.Errors {
			problems = append(problems, describe(result.Name, e))
		}
		for _, e := range result.Warnings {
			if !accepted(e.Error(), internal) {
				problems = append(problems, describe(result.Name, e))
			}
		}
	}
	return problems, nil
}

// acceptedWarnings are warnings of the validators that do not apply to bosun, and why.
var acceptedWarnings = map[string]string{
	// The deprecated-API check matches RBAC rules by resource name alone; the rules name no API version,
	// and bosun reads and writes events.k8s.io/v1, autoscaling/v2 and policy/v1.
	"this bundle is using APIs which were deprecated and removed": "RBAC rules name resources, not versions",
	// bosun applies Istio's CRDs from the newest version in use (DESIGN decision 7), which OLM cannot
	// do: the CRDs follow the control planes, not the operator. --manage-istio-crds=false turns it off.
	"CSV contains permissions to create CRD": "bosun keeps Istio's CRDs at the newest version in use",
}

// accepted reports whether a warning is one of acceptedWarnings, or asks for an example of a kind
// that the bundle marks internal: a console does not offer internal kinds, so it shows no example.
func accepted(warning string, internalKinds map[string]bool) bool {
	for pattern := range acceptedWarnings {
		if strings.Contains(warning, pattern) {
			return true
		}
	}
	if strings.Contains(warning, "provided API should have an example annotation") {
		for group := range internalKinds {
			if strings.Contains(warning, "Value "+group+"/") {
				return true
			}
		}
	}
	return false
}

// internalObjects are the API groups of the CRDs the annotation lists (names like
// virtualservices.networking.istio.io).
func internalObjects(annotation string) map[string]bool {
	var names []string
	if err := json.Unmarshal([]byte(annotation), &names); err != nil {
		return nil
	}
	groups := map[string]bool{}
	for _, n := range names {
		if _, group, ok := strings.Cut(n, "."); ok {
			groups[group] = true
		}
	}
	return groups
}

func describe(name string, e errors.Error) string {
	return fmt.Sprintf("%s %s: %s", strings.ToLower(string(e.Level)), name, e.Error())
}
