# The single entry point for this repository: `make help` lists the targets.
#
# Tools are built from the pinned versions into bin/ (never downloaded as
# binaries) and everything works offline once the Go module proxy has served
# the modules: no Buf Schema Registry, no remote plugins.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

BIN := $(CURDIR)/bin
BUF := $(BIN)/buf
# The top-level tools module (go.mod, tools.go) is outside go.work on
# purpose: build it with the workspace off.
TOOLS_GO := GOWORK=off go

# buf and the seeder must agree on the cache; default to buf's own default.
BUF_CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/buf
export BUF_CACHE_DIR

# Breaking-change baselines (any buf input: .git#ref=<sha>, .git#branch=main,
# a directory, an image file).
# - BUF_BREAKING_AGAINST: when set, the baseline, whatever it is. Unset, the
#   baseline is the point where HEAD left the base branch
#   ($(BREAKING_BASE_REMOTE)/$(BREAKING_BASE_BRANCH) if the clone has it, else
#   the local $(BREAKING_BASE_BRANCH) branch), so only this change's own edits
#   are judged. On the base branch itself that point is HEAD: the gate then
#   judges uncommitted edits (main's commits are judged by breaking-release).
#   A clone without the base branch, or too shallow to hold the merge-base,
#   is an error saying what to fetch: never a silent comparison with HEAD.
# - SCHEMA_RELEASE: the last released schema (see `make release-schema`);
#   `make breaking-release` compares against it, on main, after the fact.
BREAKING_BASE_BRANCH ?= main
BREAKING_BASE_REMOTE ?= origin
BUF_BREAKING_AGAINST ?=
# The module judged for breaking changes: the contract. The workspace's
# other module (third_party/googleapis) is vendored, not ours; a git
# baseline (anything with '#') gets subdir=$(BREAKING_MODULE) so that a
# baseline from before the workspace had two modules compares too.
BREAKING_MODULE := proto
BUF_ERROR_FORMAT ?= msvs
SCHEMA_RELEASE_COMMIT = $(shell awk '$$1 == "commit:" {print $$2}' SCHEMA_RELEASE)
SCHEMA_RELEASE_VERSION = $(shell awk '$$1 == "version:" {print $$2}' SCHEMA_RELEASE)

GO_TEST_FLAGS ?= -race -count=1

# Build outputs and harness results (git-ignored).
HARNESS_OUT := $(CURDIR)/out

# The workspace's modules, read from go.work's use directives, so a module
# added there is linted and tidied without another list to keep.
WORK_MODULES := $(shell GOWORK=$(CURDIR)/go.work go work edit -json | sed -n 's/.*"DiskPath": "\.\/\(.*\)".*/\1/p')

# The npm project at the root (package.json, package-lock.json, workspaces
# gen/es, services/user-client-node-lib and services/user-client-node):
# protoc-gen-es for `make generate`, TypeScript, and the three packages.
# Targets that need them depend on deps-node, which runs npm ci at the root
# whenever node_modules does not hold exactly what the lock lists
# (tools/node-deps: a package missing or at another version, a manifest
# changed since the lock), whatever left it so: a first run, or an npm ci in
# a workspace directory. npm ci's prepare script compiles the packages
# (tsc -b). The repository's .npmrc silences npm (for `npm start`): make
# asks for its warnings.
NODE_DEPS_CHECK := node tools/node-deps/node-deps.mjs
NODE_WORKSPACES := gen/es services/user-client-node-lib services/user-client-node services/user-web
NODE_CLIENT := services/user-client-node
NODE_LIB := services/user-client-node-lib
BENCH_COUNT ?= 6

TOOL_BINS := $(BUF) $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-openapi $(BIN)/actionlint $(BIN)/seed-buf-cache \
	$(BIN)/grpcurl $(BIN)/grpc-health-probe $(BIN)/generate $(BIN)/flagdoc

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Tools and dependencies

# tools: buf, protoc-gen-go, protoc-gen-go-grpc, protoc-gen-openapi, actionlint, grpcurl,
# grpc-health-probe, seed-buf-cache, generate, flagdoc.
.PHONY: tools
tools: $(TOOL_BINS) ## Build the pinned tools into bin/.

# Each tool is rebuilt only when its pin changes, so warm targets cost nothing.
$(BUF): go.mod go.sum
	$(TOOLS_GO) build -o $@ github.com/bufbuild/buf/cmd/buf

$(BIN)/protoc-gen-go-grpc: go.mod go.sum
	$(TOOLS_GO) build -o $@ google.golang.org/grpc/cmd/protoc-gen-go-grpc

# gnostic's protoc-gen-openapi: gen/openapi/openapi.yaml (OpenAPI 3) from
# the google.api.http routes.
$(BIN)/protoc-gen-openapi: go.mod go.sum
	$(TOOLS_GO) build -o $@ github.com/google/gnostic/cmd/protoc-gen-openapi

$(BIN)/actionlint: go.mod go.sum
	$(TOOLS_GO) build -o $@ github.com/rhysd/actionlint/cmd/actionlint

# protoc-gen-go comes from gen/go/go.mod: the generator is exactly the protobuf
# runtime version the generated code links against (see gen/go/tools.go).
$(BIN)/protoc-gen-go: gen/go/go.mod gen/go/go.sum
	cd gen/go && GOWORK=off go build -o $@ google.golang.org/protobuf/cmd/protoc-gen-go

$(BIN)/seed-buf-cache: go.mod go.sum $(wildcard tools/seed-buf-cache/*.go)
	$(TOOLS_GO) build -o $@ ./tools/seed-buf-cache

.PHONY: deps
deps: $(BUF) $(BIN)/seed-buf-cache ## Seed buf's cache from the Go module proxy; buf verifies it.
	$(BIN)/seed-buf-cache -lock buf.lock -buf $(BUF)

# Cheap guard for the targets that run buf: seed only when a buf.lock commit
# is missing from the cache.
.PHONY: deps-cached
deps-cached: $(BUF) $(BIN)/seed-buf-cache
	@for c in $$(awk '$$1 == "commit:" {print $$2}' buf.lock); do \
	  ls "$(BUF_CACHE_DIR)"/v3/modules/b5/*/*/*/"$$c"/module.yaml >/dev/null 2>&1 || { $(MAKE) deps; break; }; \
	done

##@ Schema and code generation

# tools/generate runs buf generate into a temporary directory and only on
# success swaps the result into gen/, removing generated files whose proto
# is gone: a failed generation leaves gen/ as it was.
$(BIN)/generate: go.mod go.sum $(wildcard tools/generate/*.go)
	$(TOOLS_GO) build -o $@ ./tools/generate

# tools/flagdoc writes the flag reference from each binary's --help.
$(BIN)/flagdoc: go.mod go.sum $(wildcard tools/flagdoc/*.go)
	$(TOOLS_GO) build -o $@ ./tools/flagdoc

# The commands docs/flags.md documents, each run with --help.
FLAG_DOC_COMMANDS := 'user-server' 'user-server migrate' 'user-server import' 'user-client'

.PHONY: generate
generate: $(BUF) $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-openapi $(BIN)/generate $(BIN)/flagdoc deps-node deps-cached ## Regenerate gen/ from proto/ and docs/flags.md from --help.
	$(BIN)/generate -buf $(BUF)
	@# After gen/: a service may use what was just generated.
	@$(MAKE) --no-print-directory flag-doc

# The binaries flagdoc runs, rebuilt only when their module's Go sources
# (or gen/go's) change: a warm make generate does not link them again. From
# each module's directory: works with the workspace on or off; -trimpath: a
# scratch copy of the repository reuses the build cache.
module_sources = $(shell find services/$(1) gen/go -name '*.go' ! -name '*_test.go') services/$(1)/go.mod services/$(1)/go.sum gen/go/go.mod
$(HARNESS_OUT)/flagdoc/user-server: $(call module_sources,user-server)
	cd services/user-server && go build -trimpath -o $@ .
$(HARNESS_OUT)/flagdoc/user-client: $(call module_sources,user-client)
	cd services/user-client && go build -trimpath -o $@ .

# docs/flags.md is written again when a binary or flagdoc changed;
# check-generated writes it regardless (make -W), so a hand edit is caught.
.PHONY: flag-doc
flag-doc: docs/flags.md
docs/flags.md: $(HARNESS_OUT)/flagdoc/user-server $(HARNESS_OUT)/flagdoc/user-client $(BIN)/flagdoc
	$(BIN)/flagdoc -bin $(HARNESS_OUT)/flagdoc -o docs/flags.md $(FLAG_DOC_COMMANDS)

# check-generated: stale PATH BEFORE LABEL WHAT FROM SOURCE fails when
# generating changed PATH: as uncommitted work if PATH had changes before
# (BEFORE), else as out of date with SOURCE. WHAT (FROM) is what makes it.
.PHONY: check-generated
check-generated: ## Fail if gen/ or docs/flags.md is stale or uncommitted.
	@gen_before=$$(git status --porcelain -- gen); flags_before=$$(git status --porcelain -- docs/flags.md); \
	$(MAKE) generate && $(MAKE) --no-print-directory -W $(BIN)/flagdoc docs/flags.md; \
	failed=0; \
	stale() { \
	  [ -n "$$(git status --porcelain -- $$1)" ] || return 0; \
	  git status --short -- $$1; git --no-pager diff --stat -- $$1; \
	  if [ -n "$$2" ]; then \
	    echo "$$3 has changes that are not committed (check-generated compares what $$4 with the committed $$3); it now holds what $$4$$5: commit $$3" >&2; \
	  else \
	    echo "$$3 is out of date with $$6: run 'make generate' and commit the result" >&2; \
	  fi; \
	  failed=1; \
	}; \
	stale gen "$$gen_before" gen/ "buf generates" " from proto/" proto/; \
	stale docs/flags.md "$$flags_before" docs/flags.md "the binaries' --help prints" "" "the binaries' flags"; \
	exit $$failed

.PHONY: lint
lint: $(BUF) $(BIN)/actionlint deps-cached lint-node ## Lint: buf, go vet, gofmt, go mod tidy, actionlint, tsc.
	$(BUF) lint
	@$(BUF) format -d --exit-code || { echo "buf format: the proto files above are not formatted: run 'make format'" >&2; exit 1; }
	go vet work
	$(TOOLS_GO) vet ./...
	@out=$$(gofmt -l gen services bench testkit tools *.go); if [ -n "$$out" ]; then echo "gofmt needed:" $$out >&2; exit 1; fi
	$(TOOLS_GO) mod tidy -diff
	@for m in $(WORK_MODULES); do (cd $$m && GOWORK=off go mod tidy -diff) || { echo "$$m: go.mod is not tidy" >&2; exit 1; }; done
	$(BIN)/actionlint

.PHONY: format
format: $(BUF) ## Rewrite the proto files in buf's format (buf format -w).
	$(BUF) format -w

# breaking: the baseline is BUF_BREAKING_AGAINST, by default where HEAD left
# main (an error if the clone lacks main).
.PHONY: breaking
breaking: $(BUF) deps-cached ## Fail on breaking schema changes since the base branch.
	@against='$(BUF_BREAKING_AGAINST)'; \
	if [ -z "$$against" ]; then \
	  remote_ref=refs/remotes/$(BREAKING_BASE_REMOTE)/$(BREAKING_BASE_BRANCH); \
	  base=$$(git rev-parse -q --verify "$$remote_ref^{commit}" || git rev-parse -q --verify "refs/heads/$(BREAKING_BASE_BRANCH)^{commit}") || { \
	    echo "make breaking: no baseline: this clone has neither $(BREAKING_BASE_REMOTE)/$(BREAKING_BASE_BRANCH) nor a local $(BREAKING_BASE_BRANCH) branch (a single-branch clone, or a remote not named $(BREAKING_BASE_REMOTE)?)." >&2; \
	    echo "  fetch it: git fetch $(BREAKING_BASE_REMOTE) $(BREAKING_BASE_BRANCH):$$remote_ref (a shallow clone also needs the history: add --unshallow)," >&2; \
	    echo "  or set BREAKING_BASE_REMOTE/BREAKING_BASE_BRANCH, or name the baseline: make breaking BUF_BREAKING_AGAINST='.git#ref=<commit>'" >&2; \
	    exit 1; }; \
	  merge_base=$$(git merge-base HEAD "$$base") || { \
	    echo "make breaking: no baseline: HEAD and $(BREAKING_BASE_BRANCH) ($$base) have no common commit in this clone (a shallow clone?)." >&2; \
	    echo "  fetch the history: git fetch --unshallow $(BREAKING_BASE_REMOTE) (or git fetch --deepen=N), or name the baseline with BUF_BREAKING_AGAINST" >&2; \
	    exit 1; }; \
	  against=".git#ref=$$merge_base"; \
	fi; \
	case "$$against" in *'#'*) case "$$against" in *subdir=*) ;; *) against="$$against,subdir=$(BREAKING_MODULE)" ;; esac ;; esac; \
	echo "buf breaking $(BREAKING_MODULE) --against '$$against'"; \
	$(BUF) breaking $(BREAKING_MODULE) --error-format=$(BUF_ERROR_FORMAT) --against "$$against"

.PHONY: breaking-release
breaking-release: $(BUF) deps-cached ## Fail on breaking changes since the last schema release.
	@test -n "$(SCHEMA_RELEASE_COMMIT)" || { echo "SCHEMA_RELEASE names no commit" >&2; exit 1; }
	@git cat-file -e "$(SCHEMA_RELEASE_COMMIT)^{commit}" 2>/dev/null || { \
	  echo "release commit $(SCHEMA_RELEASE_COMMIT) is not in this clone; fetch it (git fetch origin tag schema/$(SCHEMA_RELEASE_VERSION), git fetch --unshallow, or git fetch origin $(SCHEMA_RELEASE_COMMIT))" >&2; exit 1; }
	$(MAKE) breaking BUF_BREAKING_AGAINST='.git#ref=$(SCHEMA_RELEASE_COMMIT)'

# release-schema: VERSION must be greater than the last; commits
# SCHEMA_RELEASE and tags schema/VERSION.
.PHONY: release-schema
release-schema: ## On main: record and tag schema release VERSION=vX.Y.Z.
	@BREAKING_BASE_BRANCH='$(BREAKING_BASE_BRANCH)' MAKE='$(MAKE)' scripts/release-schema.sh '$(VERSION)'

##@ Run

.PHONY: demo
demo: build-node ## The reference run: the server, the Go and Node clients.
	scripts/demo.sh

.PHONY: build
build: ## Build both services into out/.
	go build -o out/ ./services/user-server ./services/user-client

.PHONY: run-server
run-server: ## Run user-server in the foreground (flags in ARGS).
	go run ./services/user-server $(ARGS)

.PHONY: run-client
run-client: ## Call the server once with user-client (flags in ARGS).
	go run ./services/user-client $(ARGS)

##@ Go

# check-versions: each service links the same module versions in the
# workspace (this go.work) and standalone (GOWORK=off).
.PHONY: check-versions
check-versions: ## Services link the same versions in and out of go.work.
	$(TOOLS_GO) run ./tools/check-versions -work $(CURDIR)/go.work services/user-server services/user-client

# go mod tidy (make lint's check, also run by the gate tests on scratch
# copies, offline) needs modules the builds do not: those of the packages
# the tests of dependencies import. This fetches them through GOPROXY
# before the tests, whatever the module cache holds (about 2 s when it holds
# them). Whether a go.mod is tidy is make lint's verdict, not reported here.
GO_MODULES := . $(WORK_MODULES)

.PHONY: go-mod-deps
go-mod-deps:
	@for m in $(GO_MODULES); do (cd $$m && GOWORK=off go mod tidy -diff >/dev/null 2>&1) || true; done

# test: all workspace modules (go test work), the tools module, the
# Node.js/grpcurl interop and the Node client.
.PHONY: test
test: tools deps deps-node go-mod-deps ## Every test: Go modules, tools, interop, Node client.
	go test $(GO_TEST_FLAGS) work
	$(TOOLS_GO) test $(GO_TEST_FLAGS) ./...
	$(MAKE) interop
	$(MAKE) test-node

# bench: full interceptor chain vs. bare handler, access log off/on.
.PHONY: bench
bench: ## In-process server benchmarks (ns/op, allocs/op).
	cd services/user-server && go test -run '^$$' -bench 'BenchmarkUnary|BenchmarkChain' -benchmem -count $(BENCH_COUNT) ./internal/server/

.PHONY: gates
gates: lint check-vendored check-generated breaking breaking-release check-versions ## Every gate but the tests (lint, vendored, generated, breaking, versions).

# check-vendored: each vendored directory matches its PROVENANCE record
# (package, version, sha256 per file; tools/check-vendored).
VENDORED := third_party/googleapis

.PHONY: check-vendored
check-vendored: ## Fail if a vendored file differs from its provenance record.
	$(TOOLS_GO) run ./tools/check-vendored $(VENDORED)

.PHONY: ci
ci: gates test ## Every gate and test, warm caches (.ci/run: empty caches).

# The commands the READMEs mark (<!-- checked: readme-commands -->), as
# written, in a newcomer's order: the Node client's README first (npm ci in
# its directory, a call against a running server), then the quick start
# (make demo, make test), which must repair what that npm ci left. This is
# how CI runs make test; make demo serves on a free port (DEMO_ADDR).
README_CHECKED := services/user-client-node/README.md README.md

$(BIN)/readme-commands: go.mod go.sum $(wildcard tools/readme-commands/*.go)
	$(TOOLS_GO) build -o $@ ./tools/readme-commands

.PHONY: readme-commands
readme-commands: $(BIN)/readme-commands ## Run the READMEs' marked commands as written.
	$(BIN)/readme-commands $(README_CHECKED)

##@ Load, soak and interop

# Harness binaries and scratch output live under out/ (git-ignored); reports
# under bench/results/ (git-ignored). `go build` caches, so these are cheap
# when nothing changed.
BENCH_RESULTS := $(CURDIR)/bench/results
# Extra flags, e.g. BENCH_LOAD_FLAGS='-rounds 5 -n 500000', BENCH_SOAK_FLAGS='-n 200000',
# BENCH_POSTGRES_FLAGS='-rounds 5', BENCH_FRESHNESS_FLAGS='-changes 50'.
BENCH_LOAD_FLAGS ?=
BENCH_SOAK_FLAGS ?=
BENCH_POSTGRES_FLAGS ?=
BENCH_FRESHNESS_FLAGS ?=

$(BIN)/grpcurl: go.mod go.sum
	$(TOOLS_GO) build -o $@ github.com/fullstorydev/grpcurl/cmd/grpcurl

$(BIN)/grpc-health-probe: go.mod go.sum
	$(TOOLS_GO) build -o $@ github.com/grpc-ecosystem/grpc-health-probe

.PHONY: interop-node-deps
interop-node-deps:
	@$(NODE_DEPS_CHECK) interop/node || { echo "node-deps: interop/node/node_modules does not match its package-lock.json: npm ci" >&2; \
	  (cd interop/node && npm ci --no-audit --no-fund) && $(NODE_DEPS_CHECK) interop/node; }

# h2load drives the load benchmarks; installed from Debian's nghttp2-client
# when missing (as root, as on CI machines), else a clear message.
.PHONY: h2load
h2load:
	@command -v h2load >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null; \
	  else echo "h2load is missing: install it (Debian/Ubuntu: apt-get install nghttp2-client)" >&2; exit 1; fi; }

# bench-load: server CPU µs per RPC, req/s, p50/p99 of user-server (log to
# stderr, to --log-file, at warn, with --metrics-listen; extra -variant;
# with the HTTP listener on, and over it: Connect binary and JSON, REST) vs
# a bare grpc-go server with the same runtime tuning and bare vanguard and
# connect-go servers, in interleaved rounds (loadbench -rounds, -configs;
# installs h2load from nghttp2-client if missing).
.PHONY: bench-load
bench-load: h2load ## Load benchmark: user-server (gRPC, HTTP) vs bare grpc-go, vanguard, connect-go.
	go build -o $(HARNESS_OUT)/bench/user-server ./services/user-server
	go build -o $(HARNESS_OUT)/bench/bare-server ./bench/cmd/bare-server
	go build -o $(HARNESS_OUT)/bench/loadbench ./bench/cmd/loadbench
	$(HARNESS_OUT)/bench/loadbench -user-server $(HARNESS_OUT)/bench/user-server \
	  -bare-server $(HARNESS_OUT)/bench/bare-server -out $(BENCH_RESULTS)/load \
	  -variant 'metrics=--metrics-listen 127.0.0.1:0' $(BENCH_LOAD_FLAGS)

# bench-postgres: warm-cache CPU per RPC, the miss path, RSS with 1,000,000
# users, on a throwaway PostgreSQL server; see bench/README.md.
.PHONY: bench-postgres
bench-postgres: h2load ## PostgreSQL directory vs in-memory: CPU, misses, RSS.
	go build -o $(HARNESS_OUT)/bench/user-server ./services/user-server
	go build -o $(HARNESS_OUT)/bench/pgbench ./bench/cmd/pgbench
	$(HARNESS_OUT)/bench/pgbench -user-server $(HARNESS_OUT)/bench/user-server \
	  -out $(BENCH_RESULTS)/postgres $(BENCH_POSTGRES_FLAGS)

# bench-freshness: freshness through 3 replicas alone and after 1M-row bulk
# changes and a 200k-user import, a terminated replica with 100k cached
# users, a 1M-user import; on a throwaway PostgreSQL server; see
# bench/README.md.
.PHONY: bench-freshness
bench-freshness: ## PostgreSQL directory: freshness after bulk changes, reconnect, big import.
	go build -o $(HARNESS_OUT)/bench/user-server ./services/user-server
	go build -o $(HARNESS_OUT)/bench/freshbench ./bench/cmd/freshbench
	$(HARNESS_OUT)/bench/freshbench -user-server $(HARNESS_OUT)/bench/user-server \
	  -out $(BENCH_RESULTS)/freshness $(BENCH_FRESHNESS_FLAGS)

# The soak and profiling builds are the real user-server plus one file,
# added at build time with -overlay (services/ is not edited), that serves
# the goroutine count and net/http/pprof on $$BENCH_DEBUG_ADDR when set.
$(HARNESS_OUT)/bench/overlay.json: bench/overlay/debug_overlay.go
	@mkdir -p $(@D)
	printf '{"Replace":{"%s":"%s"}}\n' "$(CURDIR)/services/user-server/zz_bench_debug.go" "$(CURDIR)/bench/overlay/debug_overlay.go" > $@

# bench-soak: RSS, threads and goroutines at start, middle and end
# (installs h2load if missing).
.PHONY: bench-soak
bench-soak: h2load $(HARNESS_OUT)/bench/overlay.json ## Soak: 1,000,000 RPCs; RSS, threads and goroutines.
	go build -tags benchoverlay -overlay $(HARNESS_OUT)/bench/overlay.json -o $(HARNESS_OUT)/bench/user-server-debug ./services/user-server
	go build -o $(HARNESS_OUT)/bench/soak ./bench/cmd/soak
	$(HARNESS_OUT)/bench/soak -user-server $(HARNESS_OUT)/bench/user-server-debug -out $(BENCH_RESULTS)/soak $(BENCH_SOAK_FLAGS)

.PHONY: interop
interop: $(BUF) $(BIN)/grpcurl $(BIN)/grpc-health-probe deps-cached interop-node-deps ## Node.js, grpcurl and grpc-health-probe vs the server.
	go build -o $(HARNESS_OUT)/interop-bin/user-server ./services/user-server
	SERVER=$(HARNESS_OUT)/interop-bin/user-server BUF=$(BUF) GRPCURL=$(BIN)/grpcurl \
	  HEALTH_PROBE=$(BIN)/grpc-health-probe OUT=$(HARNESS_OUT)/interop interop/run.sh

##@ TypeScript and the Node.js client

# The full check (tools/node-deps, about 0.15 s) runs whenever npm may
# have changed node_modules since it last passed: npm rewrites
# node_modules/.package-lock.json on every install, wherever it was run
# from, and a removed node_modules takes the stamp with it. It runs again
# after npm ci, so an install that does not give what the lock lists fails
# here, not later.
NODE_DEPS_STAMP := node_modules/.deps-node-checked
$(NODE_DEPS_STAMP): package.json package-lock.json $(addsuffix /package.json,$(NODE_WORKSPACES)) $(wildcard node_modules/.package-lock.json)
	@$(NODE_DEPS_CHECK) . || { echo "deps-node: node_modules does not match package-lock.json: npm ci" >&2; \
	  npm ci --no-audit --no-fund --loglevel=warn && $(NODE_DEPS_CHECK) .; }
	@touch $@

.PHONY: deps-node node-deps
deps-node: $(NODE_DEPS_STAMP) ## npm ci at the root unless node_modules matches the lock.
# The Node targets end in -node; the old names still work.
node-deps: deps-node

.PHONY: build-node
build-node: deps-node ## Compile the npm packages into their dist/ (tsc -b).
	npm run build

.PHONY: lint-node lint-ts
lint-node: deps-node ## Type-check the npm packages and tests (tsc -b).
	node_modules/.bin/tsc -b gen/es $(NODE_LIB)/test $(NODE_CLIENT)/test
	node_modules/.bin/tsc -p services/user-web
lint-ts: lint-node

.PHONY: test-node
test-node: deps-node ## Node tests: tools', the library's, the CLI's and the page's (browser).
	node --test tools/protoc-gen-es/defer-require.test.cjs tools/node-deps/node-deps.test.mjs
	go build -o $(HARNESS_OUT)/node-test/user-server ./services/user-server
	cd $(NODE_LIB) && USER_SERVER_BIN=$(HARNESS_OUT)/node-test/user-server npm test
	cd $(NODE_CLIENT) && USER_SERVER_BIN=$(HARNESS_OUT)/node-test/user-server npm test
	@# The lookup page in headless Chromium (Debian's chromium; CHROMIUM=path
	@# for another); saves out/web/*.png.
	cd services/user-web && USER_SERVER_BIN=$(HARNESS_OUT)/node-test/user-server npm test

.PHONY: demo-node
demo-node: build-node ## The reference run with the Node client only.
	DEMO_CLIENTS=node scripts/demo.sh

.PHONY: run-client-node
run-client-node: build-node ## Call the server once with the Node client (flags in ARGS).
	node $(NODE_CLIENT)/dist/bin/user-client-node.mjs $(ARGS)

##@ Flake hunt and mutation testing

RUNS ?= 5

# test-stress: busy loops hold every core; prints runs and failures (logs
# in out/test-stress/).
.PHONY: test-stress
test-stress: tools deps-cached ## Run make test RUNS times (default 5) on busy cores.
	scripts/test-stress.sh $(RUNS)

GREMLINS := $(BIN)/gremlins
# MODULES: any of user-server user-client tools (default: all three).
MODULES ?=

# gremlins has a module of its own (tools/gremlins), outside go.work and the
# tools module, so its dependencies do not move buf's.
$(GREMLINS): tools/gremlins/go.mod tools/gremlins/go.sum
	cd tools/gremlins && GOWORK=off go build -o $@ github.com/go-gremlins/gremlins/cmd/gremlins

# mutation: gremlins v0.6.0, one worker; fails below 100% efficacy or 95%
# mutator coverage (reports in out/mutation/).
.PHONY: mutation
mutation: $(GREMLINS) tools deps deps-node ## Mutation testing per module (slow; not in make test).
	GREMLINS=$(GREMLINS) scripts/mutation.sh $(MODULES)
