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
BUF_ERROR_FORMAT ?= msvs
SCHEMA_RELEASE_COMMIT = $(shell awk '$$1 == "commit:" {print $$2}' SCHEMA_RELEASE)
SCHEMA_RELEASE_VERSION = $(shell awk '$$1 == "version:" {print $$2}' SCHEMA_RELEASE)

GO_TEST_FLAGS ?= -race -count=1

# The npm project at the root (package.json, package-lock.json, workspaces
# gen/es, services/user-client-node-lib and services/user-client-node):
# protoc-gen-es for `make generate`, TypeScript, and the three packages. npm
# ci runs when node_modules is missing or a manifest or the lock changed; its
# prepare script compiles the packages (tsc -b). The repository's .npmrc
# silences npm (for `npm start`): make asks for its warnings.
NODE_DEPS := node_modules/.package-lock.json
NODE_WORKSPACES := gen/es services/user-client-node-lib services/user-client-node
NODE_CLIENT := services/user-client-node
NODE_LIB := services/user-client-node-lib
BENCH_COUNT ?= 6

TOOL_BINS := $(BUF) $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/actionlint $(BIN)/seed-buf-cache \
	$(BIN)/grpcurl $(BIN)/grpc-health-probe $(BIN)/generate

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Tools and dependencies

.PHONY: tools
tools: $(TOOL_BINS) ## Build the pinned tools into bin/ (buf, protoc-gen-go, protoc-gen-go-grpc, actionlint, grpcurl, grpc-health-probe, seed-buf-cache, generate).

# Each tool is rebuilt only when its pin changes, so warm targets cost nothing.
$(BUF): go.mod go.sum
	$(TOOLS_GO) build -o $@ github.com/bufbuild/buf/cmd/buf

$(BIN)/protoc-gen-go-grpc: go.mod go.sum
	$(TOOLS_GO) build -o $@ google.golang.org/grpc/cmd/protoc-gen-go-grpc

$(BIN)/actionlint: go.mod go.sum
	$(TOOLS_GO) build -o $@ github.com/rhysd/actionlint/cmd/actionlint

# protoc-gen-go comes from gen/go/go.mod: the generator is exactly the protobuf
# runtime version the generated code links against (see gen/go/tools.go).
$(BIN)/protoc-gen-go: gen/go/go.mod gen/go/go.sum
	cd gen/go && GOWORK=off go build -o $@ google.golang.org/protobuf/cmd/protoc-gen-go

$(BIN)/seed-buf-cache: go.mod go.sum $(wildcard tools/seed-buf-cache/*.go)
	$(TOOLS_GO) build -o $@ ./tools/seed-buf-cache

.PHONY: deps
deps: $(BUF) $(BIN)/seed-buf-cache ## Seed buf's cache with buf.lock's dependencies from the Go module proxy, then let buf verify them.
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

.PHONY: generate
generate: $(BUF) $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/generate $(NODE_DEPS) deps-cached ## Regenerate gen/ (gen/go and gen/es) from proto/ with buf generate (gen/ untouched if buf fails; stale files removed).
	$(BIN)/generate -buf $(BUF)

.PHONY: check-generated
check-generated: ## Regenerate and fail if gen/ differs from what is committed.
	@uncommitted=$$(git status --porcelain -- gen); \
	$(MAKE) generate; \
	if [ -n "$$(git status --porcelain -- gen)" ]; then \
	  git status --short -- gen; git --no-pager diff --stat -- gen; \
	  if [ -n "$$uncommitted" ]; then \
	    echo "gen/ has changes that are not committed (check-generated compares what buf generates with the committed gen/); it now holds what buf generates from proto/: commit gen/" >&2; \
	  else \
	    echo "gen/ is out of date with proto/: run 'make generate' and commit the result" >&2; \
	  fi; \
	  exit 1; \
	fi

.PHONY: lint
lint: $(BUF) $(BIN)/actionlint deps-cached lint-ts ## buf lint, buf format, go vet and gofmt on every module, go mod tidy check, actionlint, tsc --noEmit.
	$(BUF) lint
	@$(BUF) format -d --exit-code || { echo "buf format: the proto files above are not formatted: run 'make format'" >&2; exit 1; }
	go vet work
	$(TOOLS_GO) vet ./...
	@out=$$(gofmt -l gen services bench tools *.go); if [ -n "$$out" ]; then echo "gofmt needed:" $$out >&2; exit 1; fi
	$(TOOLS_GO) mod tidy -diff
	@for m in gen/go services/user-server services/user-client bench; do (cd $$m && GOWORK=off go mod tidy -diff) || { echo "$$m: go.mod is not tidy" >&2; exit 1; }; done
	$(BIN)/actionlint

.PHONY: format
format: $(BUF) ## Rewrite the proto files in buf's format (buf format -w): what lint's format diff asks for.
	$(BUF) format -w

.PHONY: breaking
breaking: $(BUF) deps-cached ## Fail on breaking schema changes against BUF_BREAKING_AGAINST (default: where HEAD left main; an error if the clone lacks main).
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
	echo "buf breaking --against '$$against'"; \
	$(BUF) breaking --error-format=$(BUF_ERROR_FORMAT) --against "$$against"

.PHONY: breaking-release
breaking-release: $(BUF) deps-cached ## Fail on breaking schema changes against the last release recorded in SCHEMA_RELEASE.
	@test -n "$(SCHEMA_RELEASE_COMMIT)" || { echo "SCHEMA_RELEASE names no commit" >&2; exit 1; }
	@git cat-file -e "$(SCHEMA_RELEASE_COMMIT)^{commit}" 2>/dev/null || { \
	  echo "release commit $(SCHEMA_RELEASE_COMMIT) is not in this clone; fetch it (git fetch origin tag schema/$(SCHEMA_RELEASE_VERSION), git fetch --unshallow, or git fetch origin $(SCHEMA_RELEASE_COMMIT))" >&2; exit 1; }
	$(MAKE) breaking BUF_BREAKING_AGAINST='.git#ref=$(SCHEMA_RELEASE_COMMIT)'

.PHONY: release-schema
release-schema: ## On main: record HEAD as schema release VERSION=vX.Y.Z (greater than the last), commit SCHEMA_RELEASE, tag schema/VERSION.
	@BREAKING_BASE_BRANCH='$(BREAKING_BASE_BRANCH)' MAKE='$(MAKE)' scripts/release-schema.sh '$(VERSION)'

##@ Run

.PHONY: demo
demo: build-node ## The reference run: build both services, start the server, run the Go client and the Node client, stop the server.
	scripts/demo.sh

.PHONY: build
build: ## Build both services into out/.
	go build -o out/ ./services/user-server ./services/user-client

.PHONY: run-server
run-server: ## Run user-server in the foreground (flags in ARGS, e.g. ARGS="--log-format json").
	go run ./services/user-server $(ARGS)

.PHONY: run-client
run-client: ## Call the server once with user-client (flags in ARGS, e.g. ARGS="--user john123 --output json").
	go run ./services/user-client $(ARGS)

##@ Go

.PHONY: check-versions
check-versions: ## Check each service links the same module versions in the workspace (this go.work) and standalone (GOWORK=off).
	$(TOOLS_GO) run ./tools/check-versions -work $(CURDIR)/go.work services/user-server services/user-client

.PHONY: test
test: tools deps-cached $(NODE_DEPS) ## Run every test: all workspace modules (go test work), the tools module, the Node.js/grpcurl interop and the Node client.
	go test $(GO_TEST_FLAGS) work
	$(TOOLS_GO) test $(GO_TEST_FLAGS) ./...
	$(MAKE) interop
	$(MAKE) test-node

.PHONY: bench
bench: ## In-process server benchmarks: full interceptor chain vs. bare handler, access log off/on (ns/op, allocs/op).
	cd services/user-server && go test -run '^$$' -bench 'BenchmarkUnary|BenchmarkChain' -benchmem -count $(BENCH_COUNT) ./internal/server/

.PHONY: ci
ci: lint check-generated breaking breaking-release check-versions test ## Everything CI runs: all gates and all tests.

##@ Load, soak and interop

# Harness binaries and scratch output live under out/ (git-ignored); reports
# under bench/results/ (git-ignored). `go build` caches, so these are cheap
# when nothing changed.
HARNESS_OUT := $(CURDIR)/out
BENCH_RESULTS := $(CURDIR)/bench/results
# Extra flags, e.g. BENCH_LOAD_FLAGS='-rounds 5 -n 500000', BENCH_SOAK_FLAGS='-n 200000'.
BENCH_LOAD_FLAGS ?=
BENCH_SOAK_FLAGS ?=

$(BIN)/grpcurl: go.mod go.sum
	$(TOOLS_GO) build -o $@ github.com/fullstorydev/grpcurl/cmd/grpcurl

$(BIN)/grpc-health-probe: go.mod go.sum
	$(TOOLS_GO) build -o $@ github.com/grpc-ecosystem/grpc-health-probe

interop/node/node_modules/.package-lock.json: interop/node/package.json interop/node/package-lock.json
	cd interop/node && npm ci --no-audit --no-fund

# h2load drives the load benchmarks; installed from Debian's nghttp2-client
# when missing (as root, as on CI machines), else a clear message.
.PHONY: h2load
h2load:
	@command -v h2load >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null; \
	  else echo "h2load is missing: install it (Debian/Ubuntu: apt-get install nghttp2-client)" >&2; exit 1; fi; }

.PHONY: bench-load
bench-load: h2load ## Load benchmark: server CPU µs per RPC, req/s, p50/p99 of user-server (log to stderr, to --log-file, at warn, with --metrics-listen; extra -variant) vs a bare grpc-go server with the same runtime tuning, 7 interleaved rounds (installs h2load from nghttp2-client if missing).
	go build -o $(HARNESS_OUT)/bench/user-server ./services/user-server
	go build -o $(HARNESS_OUT)/bench/bare-server ./bench/cmd/bare-server
	go build -o $(HARNESS_OUT)/bench/loadbench ./bench/cmd/loadbench
	$(HARNESS_OUT)/bench/loadbench -user-server $(HARNESS_OUT)/bench/user-server \
	  -bare-server $(HARNESS_OUT)/bench/bare-server -out $(BENCH_RESULTS)/load \
	  -variant 'metrics=--metrics-listen 127.0.0.1:0' $(BENCH_LOAD_FLAGS)

.PHONY: bench-postgres
bench-postgres: h2load ## PostgreSQL directory vs in-memory: warm-cache CPU per RPC, the miss path, RSS with 1,000,000 users (throwaway PostgreSQL server; see bench/README.md).
	go build -o $(HARNESS_OUT)/bench/user-server ./services/user-server
	go build -o $(HARNESS_OUT)/bench/pgbench ./bench/cmd/pgbench
	taskset -c 1 $(HARNESS_OUT)/bench/pgbench -user-server $(HARNESS_OUT)/bench/user-server \
	  -out $(BENCH_RESULTS)/postgres $(BENCH_POSTGRES_FLAGS)

# The soak and profiling builds are the real user-server plus one file,
# added at build time with -overlay (services/ is not edited), that serves
# the goroutine count and net/http/pprof on $$BENCH_DEBUG_ADDR when set.
$(HARNESS_OUT)/bench/overlay.json: bench/overlay/debug_overlay.go
	@mkdir -p $(@D)
	printf '{"Replace":{"%s":"%s"}}\n' "$(CURDIR)/services/user-server/zz_bench_debug.go" "$(CURDIR)/bench/overlay/debug_overlay.go" > $@

.PHONY: bench-soak
bench-soak: h2load $(HARNESS_OUT)/bench/overlay.json ## Soak: 1,000,000 RPCs against one user-server; RSS, threads and goroutines at start, middle and end (installs h2load if missing).
	go build -tags benchoverlay -overlay $(HARNESS_OUT)/bench/overlay.json -o $(HARNESS_OUT)/bench/user-server-debug ./services/user-server
	go build -o $(HARNESS_OUT)/bench/soak ./bench/cmd/soak
	$(HARNESS_OUT)/bench/soak -user-server $(HARNESS_OUT)/bench/user-server-debug -out $(BENCH_RESULTS)/soak $(BENCH_SOAK_FLAGS)

.PHONY: interop
interop: $(BUF) $(BIN)/grpcurl $(BIN)/grpc-health-probe deps-cached interop/node/node_modules/.package-lock.json ## Node.js (@grpc/grpc-js), grpcurl and grpc-health-probe against the real server.
	go build -o $(HARNESS_OUT)/interop-bin/user-server ./services/user-server
	SERVER=$(HARNESS_OUT)/interop-bin/user-server BUF=$(BUF) GRPCURL=$(BIN)/grpcurl \
	  HEALTH_PROBE=$(BIN)/grpc-health-probe OUT=$(HARNESS_OUT)/interop interop/run.sh

##@ TypeScript and the Node.js client

$(NODE_DEPS): package.json package-lock.json $(addsuffix /package.json,$(NODE_WORKSPACES))
	npm ci --no-audit --no-fund --loglevel=warn

.PHONY: node-deps
node-deps: $(NODE_DEPS) ## Install the pinned npm packages (protoc-gen-es, TypeScript, the Node client's) with npm ci.

.PHONY: build-node
build-node: $(NODE_DEPS) ## Compile the npm packages (gen/es, the client library, the CLI) into their dist/ (tsc -b: only what changed).
	npm run build

.PHONY: lint-ts
lint-ts: $(NODE_DEPS) ## Type-check gen/es, the client library, the CLI and their tests, strict (tsc -b).
	node_modules/.bin/tsc -b gen/es $(NODE_LIB)/test $(NODE_CLIENT)/test

.PHONY: test-node
test-node: $(NODE_DEPS) ## Node tests (node --test): tools/protoc-gen-es's, the client library's (packed and installed outside the repository too) and the CLI's, against the real user-server binary, built into out/.
	node --test tools/protoc-gen-es/defer-require.test.cjs
	go build -o $(HARNESS_OUT)/node-test/user-server ./services/user-server
	cd $(NODE_LIB) && USER_SERVER_BIN=$(HARNESS_OUT)/node-test/user-server npm test
	cd $(NODE_CLIENT) && USER_SERVER_BIN=$(HARNESS_OUT)/node-test/user-server npm test

.PHONY: demo-node
demo-node: build-node ## The reference run with the Node client only.
	DEMO_CLIENTS=node scripts/demo.sh

.PHONY: run-client-node
run-client-node: build-node ## Call the server once with the Node client (flags in ARGS).
	node $(NODE_CLIENT)/dist/bin/user-client-node.mjs $(ARGS)

##@ Flake hunt and mutation testing

RUNS ?= 5

.PHONY: test-stress
test-stress: tools deps-cached ## Run `make test` RUNS times (default 5) while busy loops hold every core; prints runs and failures (logs in out/test-stress/).
	scripts/test-stress.sh $(RUNS)

GREMLINS := $(BIN)/gremlins
# MODULES: any of user-server user-client tools (default: all three).
MODULES ?=

# gremlins has a module of its own (tools/gremlins), outside go.work and the
# tools module, so its dependencies do not move buf's.
$(GREMLINS): tools/gremlins/go.mod tools/gremlins/go.sum
	cd tools/gremlins && GOWORK=off go build -o $@ github.com/go-gremlins/gremlins/cmd/gremlins

.PHONY: mutation
mutation: $(GREMLINS) tools deps-cached $(NODE_DEPS) ## Mutation testing (gremlins v0.6.0) per module, one worker: fails below 100% efficacy or 95% mutator coverage (reports in out/mutation/; slow, not part of make test).
	GREMLINS=$(GREMLINS) scripts/mutation.sh $(MODULES)
