# bosun's Makefile. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

CONTROLLER_GEN := go tool -modfile=hack/tools/go.mod controller-gen
HELM := go tool -modfile=hack/tools/go.mod helm
GO_TEST_FLAGS ?=

.PHONY: help
help: ## Show the targets and what they do.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: generate
generate: ## Regenerate the values types (from Istio's definitions), deepcopy, CRDs and the operator's RBAC.
	@echo "generate: values types, deepcopy, CRDs and RBAC"
	go run ./hack/valuesgen -out api/v1/values_types.gen.go
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1,allowDangerousTypes=true paths=./api/... output:crd:artifacts:config=chart/crds
	$(CONTROLLER_GEN) rbac:roleName=bosun-operator paths=./internal/operator/... output:rbac:dir=chart/files

# The alerting rules' only source is the chart's chart/files/prometheus/bosun-rules.yaml; deploy/prometheus/
# holds a copy for a Prometheus run without the Prometheus operator (docs/monitoring.md).
.PHONY: manifests
manifests: generate ## Render the operator's chart (chart/) into deploy/bosun.yaml, the plain-YAML install (CRDs aside: chart/crds), copy its alerting rules to deploy/prometheus/, and lint the chart.
	@echo "manifests: helm lint and helm template of chart/ (Helm's CLI builds once, a few minutes)"
	$(HELM) lint chart --strict
	@if $(HELM) template bosun chart --set leaderElection.leaseDuration=60 >/dev/null 2>&1; then \
		echo "manifests: the chart accepted a duration without its unit (values.schema.json)"; exit 1; fi
	$(HELM) template bosun chart --namespace bosun-system --set createNamespace=true > deploy/bosun.yaml
	cp chart/files/prometheus/bosun-rules.yaml deploy/prometheus/bosun-rules.yaml

.PHONY: verify
verify: manifests ## Regenerate everything and fail if the tree changed (run by make test).
	@gofmt_out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$gofmt_out" ]; then echo "verify: not gofmt-formatted:"; echo "$$gofmt_out"; exit 1; fi
	go vet -tags integration,e2e ./...
	@changed=$$(git diff --name-only -- api config chart deploy; git ls-files --others --exclude-standard -- api config chart deploy); \
	if [ -n "$$changed" ]; then \
		echo "verify: 'make generate' or 'make manifests' changed these files; commit the regenerated files:"; echo "$$changed"; exit 1; fi
	@echo "verify: generated files are up to date"

.PHONY: charts
charts: ## Fetch the Istio charts and profiles of every catalog version into resources/ (from istio.io/istio's Go module).
	go run ./hack/charts

.PHONY: build
# BOSUN_BUILD builds bosun as the cluster's programs and istiod are built (internal/repo): static, without
# cgo, -trimpath, without DWARF. make demo builds bosun before the cluster's programs, whose go.mod requires
# bosun's versions of the modules both use, so the 600 packages they share (k8s.io/api, client-go, …) compile
# once: two minutes less on two cores (hack/clusterbins). For binaries to step through in a debugger:
# go build -o bin/ ./cmd/...
BOSUN_BUILD := CGO_ENABLED=0 go build -trimpath -gcflags=all=-dwarf=false

build: charts ## Build bosun's three binaries into bin/: bosun-operator (the operator, the image's program), bosun (the users' CLI: render, status; also as the kubectl plugin bin/kubectl-bosun) and bosun-dev (the cluster in a box and the demo).
	$(BOSUN_BUILD) -o bin/ ./cmd/bosun-operator ./cmd/bosun ./cmd/bosun-dev
	ln -sf bosun bin/kubectl-bosun

# The operator image's name; the chart's default image names the same (chart/values.yaml).
IMAGE_REPO ?= ghcr.io/bosun-mesh/bosun
VERSION ?= $(shell sed -n 's/^appVersion: "\(.*\)"/\1/p' chart/Chart.yaml)

.PHONY: image
image: charts ## Build the operator image without Docker: an OCI layout in bin/image/ (push it with crane or skopeo).
	@echo "image: static bosun-operator binary, then the OCI layout"
	GOOS=linux $(BOSUN_BUILD) -ldflags "-s -w -X github.com/bosun-mesh/bosun/internal/buildinfo.release=v$(VERSION)" -o bin/image-build/bosun-operator ./cmd/bosun-operator
	cd hack/tools && go run ./image -binary ../../bin/image-build/bosun-operator -resources ../../resources -out ../../bin/image -ref $(IMAGE_REPO):$(VERSION)

.PHONY: bundle
bundle: charts manifests ## Write the OLM bundle into bin/bundle/ and check it with operator-framework's validators.
	go run ./hack/bundle -out bin/bundle
	cd hack/tools && go run ./bundlecheck -dir ../../bin/bundle

.PHONY: cluster-bins
cluster-bins: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok into bin/cluster/, then istiod-bins (first time: about 7 + 20 minutes).
	go run ./hack/clusterbins
	go run ./hack/istiodbins

.PHONY: istiod-bins
istiod-bins: ## Build pilot-discovery of each catalog version whose module builds into bin/istiod/<version>/; the box's istiod pods run it (docs/istiod-in-the-box.md).
	go run ./hack/istiodbins

# The catalog versions whose istiod the tests run for real: the 1.25 snapshot, which also plays the
# documents' 1.24 versions, and the 1.27 snapshot (test/e2e/main_test.go). make test builds only these.
ISTIOD_TEST_VERSIONS := v1.25.0-snapshot.be4b14ad,v1.27.0-snapshot.b9159ca3

.PHONY: cluster-programs
cluster-programs: ## Build only the cluster's programs (etcd, Kubernetes, kwok) into bin/cluster/, as make integration needs them.
	go run ./hack/clusterbins

.PHONY: test-bins
test-bins: cluster-programs ## Build the cluster's programs and the istiods the tests run (ISTIOD_TEST_VERSIONS), as make test does.
	go run ./hack/istiodbins -version $(ISTIOD_TEST_VERSIONS)

# The tests come in three kinds, by build tag (docs/architecture.md, "Tests"): untagged unit tests need
# no cluster; integration tests start a real kube-apiserver and etcd (one per package); e2e tests run
# the whole cluster in a box, with kwok and real istiods.

.PHONY: unit
unit: ## Run the unit tests: no cluster, no network once the charts are fetched (which the tests do themselves on a fresh clone); well under two minutes.
	@echo "unit: go test ./... (tests that need a cluster are tagged integration or e2e and are not built)"
	go test $(GO_TEST_FLAGS) -count=1 ./...
	cd hack/tools && go test -count=1 ./image ./monitoring

.PHONY: integration
integration: cluster-programs ## Run the unit tests and the integration suites (a real kube-apiserver and etcd per package; each controller's suite in under a minute).
	@echo "integration: go test -tags integration ./..."
	go test $(GO_TEST_FLAGS) -tags integration -count=1 -timeout 20m ./...

.PHONY: test
test: verify charts bundle test-bins ## Run every test: unit, integration and end-to-end against the cluster in a box.
	@echo "test: go test -tags integration,e2e ./... (integration tests start a real kube-apiserver and etcd; e2e tests the whole cluster in a box)"
	go test $(GO_TEST_FLAGS) -tags integration,e2e -count=1 -timeout 40m ./...
	@echo "test: the tools module (the image builder; the dashboard and alerting rules, with Prometheus's parsers)"
	cd hack/tools && go test -count=1 ./image ./monitoring

# BENCH_FLAGS are passed to the operator benchmarks (test/bench), such as
# BENCH_FLAGS='-bench Scale' or BENCH_FLAGS='-args -container-memory=64Mi'.
BENCH_FLAGS ?=

.PHONY: bench
bench: charts cluster-bins ## Run the Go benchmarks, then measure the operator on the cluster in a box: every step against its floor, 1 to 50 meshes, the heap after 100 changes, idle, 10,000 pods, a move of 100 workloads (about 45 minutes; results and method: docs/performance.md).
	@echo "bench: package benchmarks"
	go test -tags integration -run '^$$' -bench . -benchmem $$(go list ./... | grep -v '/test/bench$$')
	@echo "bench: the operator on the cluster in a box (test/bench): each step 20 times with the operator and 20 without (its floor), the phases, 1/10/50 meshes, 100 version changes, 300 idle seconds, 10,000 pods, a move of 100 workloads; progress follows"
	go test ./test/bench -run '^$$' -bench . -benchtime 1x -timeout 60m $(BENCH_FLAGS)

.PHONY: krew
KREW_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
KREW_URL ?= https://github.com/bosun-mesh/bosun/releases/download/v$(VERSION)
krew: ## Build the kubectl-bosun release archives into dist/ and the krew plugin manifest for them (dist/bosun.krew.yaml).
	@mkdir -p dist
	@for p in $(KREW_PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; \
		echo "krew: kubectl-bosun for $$os/$$arch"; \
		GOOS=$$os GOARCH=$$arch $(BOSUN_BUILD) -o dist/$$os-$$arch/kubectl-bosun ./cmd/bosun || exit 1; \
		tar -czf dist/kubectl-bosun_$${os}_$${arch}.tar.gz -C dist/$$os-$$arch kubectl-bosun || exit 1; done
	go run ./hack/krew -version v$(VERSION) -url $(KREW_URL) -dist dist -o dist/bosun.krew.yaml

.PHONY: demo
demo: ## Start here: build what is missing, start the cluster in a box with real istiod, install bosun as a user does, a mesh and bookinfo, and show them; runs until Ctrl-C (docs/demo.md).
	@echo "demo: [1/2] bosun's binaries into bin/; meanwhile Istio's charts into resources/, and the modules of the cluster's programs and of istiod download (first time: a few minutes)"
	@$(MAKE) --no-print-directory -j4 demo-bosun demo-charts demo-cluster-modules demo-istiod-modules
	@echo "demo: [2/2] the cluster's programs and istiod of the demo's Istio version, side by side (first time: about 9 minutes), then the cluster, bosun, a mesh and bookinfo"
	bin/bosun-dev demo

.PHONY: demo-multicluster
demo-multicluster: ## Two clusters in a box, bosun on each, one multi-primary mesh joined by bosun create-remote-secret, and what each istiod knows of the other's services; runs until Ctrl-C (docs/topologies.md).
	@echo "demo-multicluster: [1/2] bosun's binaries into bin/; meanwhile Istio's charts, and the modules of the cluster's programs and of istiod (first time: a few minutes)"
	@$(MAKE) --no-print-directory -j4 demo-bosun demo-charts demo-cluster-modules demo-istiod-modules
	@echo "demo-multicluster: [2/2] the cluster's programs and istiod (first time: about 9 minutes), then two clusters, bosun on each, the mesh and the view of each istiod"
	bin/bosun-dev demo-multicluster

# The parts of make demo's first step, which run side by side: bosun's compile keeps the cores busy
# while the rest waits on the network. A download that fails here is retried, and reported, by the
# build that needs it. All three binaries build, not only the demo's bosun-dev and bosun-operator:
# bosun's render shares the API server's packages with the cluster's programs, which then link them
# from the build cache.
.PHONY: demo-bosun demo-charts demo-cluster-modules demo-istiod-modules
demo-bosun:
	$(BOSUN_BUILD) -o bin/ ./cmd/bosun-operator ./cmd/bosun ./cmd/bosun-dev
	ln -sf bosun bin/kubectl-bosun
demo-charts:
	@go run ./hack/charts
demo-cluster-modules:
	-@go run ./hack/clusterbins -download
demo-istiod-modules:
	-@go run ./hack/istiodbins -download -version default

# CHAOS_KILLS is how many times make chaos kills the operator; CHAOS_SEED, when set, replays a run.
CHAOS_KILLS ?= 50
CHAOS_SEED ?=

.PHONY: chaos
chaos: charts test-bins ## Kill the operator (SIGKILL) CHAOS_KILLS times (50) at seeded random moments of version changes and print the tally (about 6 minutes).
	BOSUN_CHAOS_KILLS=$(CHAOS_KILLS) BOSUN_CHAOS_SEED=$(CHAOS_SEED) go test -tags e2e ./test/e2e -run '^TestOperatorSurvivesSIGKILL$$' -count=1 -v -timeout 60m \
		| grep -E '^(=== RUN|--- |PASS|FAIL|ok )|faults_test.go|^ +(kills|moments|converged|failure)'

.PHONY: dev-cluster
dev-cluster: cluster-bins build ## Start the cluster in a box with 3 nodes and bosun's CRDs, bosun's operator pods played by bin/bosun-operator; runs until Ctrl-C.
	bin/bosun-dev cluster --nodes 3
