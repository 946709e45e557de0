// Package samples holds the example applications of samples/, for the demo and the end-to-end tests
// to deploy exactly what a user would apply from this folder.
package samples

import _ "embed"

// Bookinfo is samples/bookinfo/bookinfo.yaml: four Services, their ServiceAccounts and six
// Deployments shaped like Istio's Bookinfo, to be applied in one namespace.
//
//go:embed bookinfo/bookinfo.yaml
var Bookinfo string

// BookinfoDeployments are the names of Bookinfo's Deployments.
var BookinfoDeployments = []string{"details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3", "productpage-v1"}
