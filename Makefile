# bosun's Makefile. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

CONTROLLER_GEN := go tool -modfile=hack/tools/go.mod controller-gen
GO_TEST_FLAGS ?=

.PHONY: help
help: ## Show the targets and what they do.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: generate
generate: ## Regenerate the values types (from Istio's definitions), deepcopy and CRDs.
	@echo "generate: values types, deepcopy and CRDs"
	go run ./hack/valuesgen -out api/v1/values_types.gen.go
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1,allowDangerousTypes=true paths=./api/... output:crd:artifacts:config=config/crd

.PHONY: verify
verify: generate ## Regenerate everything and fail if the tree changed (run by make test).
	@gofmt_out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$gofmt_out" ]; then echo "verify: not gofmt-formatted:"; echo "$$gofmt_out"; exit 1; fi
	go vet ./...
	@changed=$$(git diff --name-only -- api config; git ls-files --others --exclude-standard -- api config); \
	if [ -n "$$changed" ]; then \
		echo "verify: 'make generate' changed these files; commit the regenerated files:"; echo "$$changed"; exit 1; fi
	@echo "verify: generated files are up to date"

.PHONY: charts
charts: ## Fetch the Istio charts and profiles of every catalog version into resources/ (from istio.io/istio's Go module).
	go run ./hack/charts

.PHONY: build
build: charts ## Build the bosun binary into bin/bosun.
	go build -trimpath -o bin/bosun ./cmd/bosun

.PHONY: cluster-bins
cluster-bins: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok into bin/cluster/, then istiod-bins (first time: about 8 + 15 minutes).
	go run ./hack/clusterbins
	go run ./hack/istiodbins

.PHONY: istiod-bins
istiod-bins: ## Build pilot-discovery of each catalog version whose module builds into bin/istiod/<version>/; the box's istiod pods run it (docs/istiod-in-the-box.md).
	go run ./hack/istiodbins

.PHONY: test
test: verify charts cluster-bins ## Run every test: unit, integration and end-to-end against the cluster in a box.
	@echo "test: go test ./... (integration tests start a real kube-apiserver and etcd)"
	go test $(GO_TEST_FLAGS) -count=1 ./...

# BENCH_FLAGS are passed to the operator benchmarks (test/bench), such as
# BENCH_FLAGS='-bench Scale' or BENCH_FLAGS='-args -container-memory=64Mi'.
BENCH_FLAGS ?=

.PHONY: bench
bench: charts cluster-bins ## Run the Go benchmarks, then measure the operator on the cluster in a box (about 15 minutes; results and method: docs/performance.md).
	@echo "bench: package benchmarks"
	go test -run '^$$' -bench . -benchmem $$(go list ./... | grep -v '/test/bench$$')
	@echo "bench: the operator on the cluster in a box (test/bench): install, version changes, writes, 300 idle seconds, 10,000 pods; progress follows"
	go test ./test/bench -run '^$$' -bench . -benchtime 1x -timeout 60m $(BENCH_FLAGS)

.PHONY: dev-cluster
dev-cluster: cluster-bins build ## Start the cluster in a box with 3 nodes and bosun's CRDs; runs until Ctrl-C.
	bin/bosun dev-cluster --nodes 3
