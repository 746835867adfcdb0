# Switchboard. `make help` lists every target.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Every recipe that runs Node first makes sure the toolchain is there (Redis from Debian,
# Node 24, npm ci when the lockfile changed) and puts Node 24 first on PATH.
TOOLCHAIN := . scripts/toolchain.sh &&

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: install
install: ## Install what is missing: Debian packages, Node 24, npm packages
	@$(TOOLCHAIN) true

.PHONY: demo
demo: ## Run the whole platform locally, no cluster: inbox, API, worker, Postgres, Redis, Cloud API emulator
	@$(TOOLCHAIN) npm run --silent --if-present build -w @switchboard/inbox && node packages/devstack/src/demo.ts $(if $(DEMO_PORT),--port $(DEMO_PORT))

.PHONY: demo-customer
demo-customer: ## Chat with the running demo as a WhatsApp customer (FROM=<number> to be someone else)
	@$(TOOLCHAIN) node packages/devstack/src/customer.ts $(if $(FROM),--from $(FROM))

.PHONY: check
check: ## Everything CI runs: lint, typecheck, circular imports, generated-file drift, tests
	@$(TOOLCHAIN) scripts/check.sh

.PHONY: test
test: ## Run the whole test suite (starts Postgres, Redis, Sentinel, kube-apiserver itself)
	@$(TOOLCHAIN) scripts/check.sh --only tests

.PHONY: lint
lint: ## Lint and format-check with Biome
	@$(TOOLCHAIN) npx biome check .

.PHONY: format
format: ## Apply Biome's formatting and safe fixes
	@$(TOOLCHAIN) npx biome check --write .

.PHONY: typecheck
typecheck: ## Type-check every workspace (tsc -b over the project references)
	@$(TOOLCHAIN) npx tsc -b

.PHONY: circular
circular: ## Fail on circular imports and broken layers (.dependency-cruiser.cjs)
	@$(TOOLCHAIN) npm run --silent circular

.PHONY: generate
generate: ## Regenerate generated files (Prisma client, CRDs)
	@$(TOOLCHAIN) scripts/generate.sh

.PHONY: generate-check
generate-check: ## Fail when generated files differ from what `make generate` produces
	@$(TOOLCHAIN) scripts/generate.sh --check

.PHONY: db-migrate
db-migrate: ## Apply pending migrations to DATABASE_URL (what the operator's migration Job runs)
	@$(TOOLCHAIN) node packages/db/src/cli.ts up

.PHONY: db-rollback
db-rollback: ## Roll back the last migration on DATABASE_URL
	@$(TOOLCHAIN) node packages/db/src/cli.ts down

.PHONY: envtest-binaries
envtest-binaries: ## Build (or reuse) kube-apiserver and etcd for the pinned Kubernetes version
	@$(TOOLCHAIN) node packages/envtest/src/cli.ts build

.PHONY: jaeger-binary
jaeger-binary: ## Build (or reuse) the Jaeger the tracing tests send spans to, from its Go module
	@$(TOOLCHAIN) node packages/testing/src/jaeger-cli.ts

.PHONY: vault-binary
vault-binary: ## Build (or reuse) the Vault server the secrets tests run, from its Go module
	@$(TOOLCHAIN) node packages/testing/src/vault-cli.ts

.PHONY: images
images: ## Build the operator, API and worker images with podman (REGISTRY=<host/org> TAG=<tag> PUSH=1 to push)
	@$(TOOLCHAIN) REGISTRY="$(REGISTRY)" TAG="$(TAG)" PUSH="$(PUSH)" images/build.sh

.PHONY: cluster-binaries
cluster-binaries: ## Build (or reuse) the one-node cluster's binaries and images (kubelet, CoreDNS, Traefik, ...)
	@$(TOOLCHAIN) node packages/cluster/src/cli.ts build

.PHONY: cluster-up
cluster-up: ## Start the one-node Kubernetes cluster (idempotent; imports `make images` output); prints export KUBECONFIG=...
	@$(TOOLCHAIN) node packages/cluster/src/cli.ts up

.PHONY: cluster-down
cluster-down: ## Stop the cluster and remove everything it left (processes, bridge, iptables rules, mounts, folder)
	@$(TOOLCHAIN) node packages/cluster/src/cli.ts down

.PHONY: cluster-status
cluster-status: ## Show which cluster components run and whether the node is Ready
	@$(TOOLCHAIN) node packages/cluster/src/cli.ts status

.PHONY: cluster-test
cluster-test: ## Build what the cluster needs, run its tests on a fresh cluster, take it down
	@$(TOOLCHAIN) scripts/check.sh --only cluster

.PHONY: e2e
e2e: ## The platform in pods on the one-node cluster: images, cluster-up, chart, a tenant, assertions, cluster-down (E2E_KEEP=1 keeps it)
	@$(TOOLCHAIN) test/e2e/run.sh

.PHONY: tilt-binary
tilt-binary: ## Build (or reuse) Tilt from its Go module into ~/.cache/switchboard/tilt/<version>; prints its path
	@$(TOOLCHAIN) node packages/devloop/src/cli.ts tilt-binary

.PHONY: tilt-up
tilt-up: ## The dev loop with Tilt on the one-node cluster: platform, dev images, chart, dev tenant, live update
	@$(TOOLCHAIN) scripts/dev/tilt.sh up

.PHONY: tilt-ci
tilt-ci: ## `tilt ci` on a fresh platform until everything is Ready, then tilt down and cluster-down
	@$(TOOLCHAIN) scripts/dev/tilt.sh ci

.PHONY: dev
dev: ## The dev loop without Tilt: platform, dev images, chart, dev tenant, then sync changed TS into the pods (DEV_PORT=8080)
	@$(TOOLCHAIN) DEV_PORT="$(or $(DEV_PORT),8080)" scripts/dev/up.sh

.PHONY: dev-down
dev-down: ## Stop the dev platform (emulator, platform Postgres) and take the cluster down
	@$(TOOLCHAIN) scripts/dev/down.sh

.PHONY: e2e-day2
e2e-day2: ## make e2e, then the day-2 scenarios (worker killed, scale, new image, Redis failover, suspend, failed migration, delete), cluster-down
	@$(TOOLCHAIN) E2E_DAY2=1 test/e2e/run.sh

.PHONY: bench-operator
bench-operator: ## Benchmark the operator: N tenants to Ready-or-waiting against envtest, vs plain applies
	@$(TOOLCHAIN) node bench/operator/run.ts

.PHONY: bench-sessions
bench-sessions: ## Benchmark session claiming and kill -9 failover, vs raw Redis SET NX
	@$(TOOLCHAIN) node bench/sessions/run.ts

.PHONY: bench-pipeline
bench-pipeline: ## Benchmark the message pipelines (inbound with outbox and latency, outbound) vs raw INSERTs and raw BullMQ
	@$(TOOLCHAIN) node bench/pipeline/run.ts

.PHONY: bench-api
bench-api: ## Benchmark the tenant API (auth, list, search, send) with 100k conversations and 1M messages, vs a static response
	@$(TOOLCHAIN) node bench/api/run.ts

.PHONY: bench-inbox
bench-inbox: ## Benchmark the inbox in Chromium: message to visible in the thread, list time to interactive with 10k conversations
	@$(TOOLCHAIN) node bench/inbox/run.ts --in-process-api

.PHONY: clean
clean: ## Remove build outputs and test results (keeps caches)
	rm -rf .tsbuild .test-results .build
