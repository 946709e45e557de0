// Module valuesgen generates bosun's typed Helm values from Istio's protobuf definitions. It is apart
// from bosun's module so that the protobuf compiler never becomes a dependency of the operator.
module github.com/bosun-mesh/bosun/hack/valuesgen

go 1.26.0

require (
	github.com/bufbuild/protocompile v0.14.1
	golang.org/x/mod v0.42.0
	google.golang.org/protobuf v1.34.2
	sigs.k8s.io/yaml v1.6.0
)

require (
	go.yaml.in/yaml/v2 v2.4.2 // indirect
	golang.org/x/sync v0.8.0 // indirect
)
