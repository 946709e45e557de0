# bosun's Makefile. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

# Kubernetes version of the cluster in a box (see internal/testcluster and hack/clusterbins).
KUBE_VERSION ?= v1.36.3
CONTROLLER_GEN := go tool -modfile=hack/tools/go.mod controller-gen
GO_TEST_FLAGS ?=

.PHONY: help
help: ## Show the targets and what they do.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: generate
generate: ## Regenerate deepcopy functions and CRDs (config/crd/) from api/.
	@echo "generate: deepcopy and CRDs with controller-gen"
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1 paths=./api/... output:crd:artifacts:config=config/crd
	@rm -f config/crd/.gitkeep

.PHONY: verify
verify: generate ## Regenerate everything and fail if the tree changed (run by make test).
	@gofmt_out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$gofmt_out" ]; then echo "verify: not gofmt-formatted:"; echo "$$gofmt_out"; exit 1; fi
	go vet ./...
	@if [ -n "$$(git status --porcelain -- api config)" ]; then \
		echo "verify: 'make generate' changed the tree; commit the regenerated files:"; \
		git status --porcelain -- api config; git diff --stat -- api config; exit 1; fi
	@echo "verify: generated files are up to date"

.PHONY: charts
charts: ## Fetch the Istio charts and profiles of every catalog version into resources/ (from istio.io/istio's Go module).
	go run ./hack/charts

.PHONY: build
build: charts ## Build the bosun binary into bin/bosun.
	go build -trimpath -o bin/bosun ./cmd/bosun

.PHONY: cluster-bins
cluster-bins: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok into bin/cluster/ (first time: several minutes).
	go run ./hack/clusterbins -kube-version $(KUBE_VERSION)

.PHONY: test
test: verify charts cluster-bins ## Run every test: unit, integration and end-to-end against the cluster in a box.
	@echo "test: go test ./... (integration tests start a real kube-apiserver and etcd)"
	go test $(GO_TEST_FLAGS) -count=1 ./...

.PHONY: dev-cluster
dev-cluster: cluster-bins build ## Start the cluster in a box with 3 nodes and bosun's CRDs; runs until Ctrl-C.
	bin/bosun dev-cluster --nodes 3
