// Module valuesgen generates bosun's typed Helm values from Istio's protobuf definitions. It is apart
// from bosun's module so that the protobuf compiler never becomes a dependency of the operator.
module github.com/bosun-mesh/bosun/hack/valuesgen

go 1.26.0

require (
	github.com/bufbuild/protocompile v0.14.1
	google.golang.org/protobuf v1.34.2
)

require golang.org/x/sync v0.8.0 // indirect
