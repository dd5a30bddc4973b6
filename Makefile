# authops. After cloning: `make demo` runs the main job on the local stack, `make test` runs every test.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin

# Pinned Temporal CLI, built from source (newer versions cannot be go-installed: their go.mod has
# replace directives). v1.5.1 bundles Temporal Server 1.29.1 and UI 2.42.1.
TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL       := $(BIN)/temporal
TEMPORAL_STAMP := $(BIN)/.temporal-$(TEMPORAL_CLI_VERSION)

# Pinned staticcheck (2026.2.2), installed into bin/ when missing and run by make test beside go vet.
STATICCHECK_VERSION := v0.8.2
STATICCHECK       := $(BIN)/staticcheck
STATICCHECK_STAMP := $(BIN)/.staticcheck-$(STATICCHECK_VERSION)

GO_SOURCES := $(shell find . -name '*.go' -not -path './bin/*' -not -path './var/*') go.mod go.sum

.PHONY: all tools deps build up demo demo-incident test test-faults vet staticcheck fmt-check unit fuzz bench clean

all: build

## tools: build the pinned Temporal CLI into bin/ (about 5 minutes the first time; only again when the pin changes)
tools: $(TEMPORAL_STAMP)

$(TEMPORAL_STAMP):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)
	@rm -f $(BIN)/.temporal-* && touch $@

$(STATICCHECK_STAMP):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@rm -f $(BIN)/.staticcheck-* && touch $@

## deps: Debian's prometheus-alertmanager and prometheus (with promtool): a real Prometheus scrapes
## the demo backend and a real Alertmanager notifies the gateway in the e2e tests. Installed when
## missing: as root (CI) with apt-get, else with sudo.
deps:
	@if ! command -v prometheus-alertmanager >/dev/null; then \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends prometheus-alertmanager; \
	fi
	@if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends prometheus; \
	fi
	@# nginx-light: the edge proxy the deny-cidr and route restriction tests drive (internal/edge).
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends nginx-light; \
	fi

## build: bin/worker, bin/starter, bin/authbackend, bin/devstack
build: $(BIN)/worker $(BIN)/starter $(BIN)/authbackend $(BIN)/devstack

$(BIN)/worker: $(GO_SOURCES)
	$(GO) build -o $@ ./worker
$(BIN)/starter: $(GO_SOURCES)
	$(GO) build -o $@ ./starter
$(BIN)/authbackend: $(GO_SOURCES)
	$(GO) build -o $@ ./demo/authbackend
$(BIN)/devstack: $(GO_SOURCES)
	$(GO) build -o $@ ./demo/stack

## up: run the local stack in the foreground (Temporal dev server + Web UI, demo backend, worker); Ctrl-C stops it
up: tools build
	$(BIN)/devstack --var var --bin bin --config runbook.yaml

## demo: rotate the demo backend's JWT secret end to end, approved by a second person
demo: tools build
	./scripts/demo.sh

## demo-incident: walk one auth incident (runbook 1) on the local stack and print its report
demo-incident: tools build
	./scripts/demo-incident.sh

## test: vet, staticcheck, gofmt check, and every test (unit, contract, integration on the real dev server) with -race
test: tools deps build vet staticcheck fmt-check
	@# TEMPORAL_DEBUG lifts the SDK's 1s deadlock detector: under -race on a loaded 2-core CI machine it
	@# fires on healthy workflow code. Replay and determinism checks stay on.
	@# testsummary prints go test's usual output from -json (a failed test's whole output), then the
	@# wall time per suite and the slowest tests; the total comes last.
	@$(GO) build -o $(BIN)/testsummary ./internal/cmd/testsummary
	@set -o pipefail; start=$$SECONDS; TEMPORAL_DEBUG=1 AUTHOPS_REQUIRE_TOOLS=1 AUTHOPS_BIN=$(BIN) $(GO) test -json -race -count=1 -timeout 30m ./... | $(BIN)/testsummary; rc=$$?; \
	echo "make test: go test took $$((SECONDS - start)) s"; exit $$rc

vet:
	$(GO) vet ./...

## staticcheck: the checks vet does not make (default set); a false positive gets a //lint:ignore with its reason
staticcheck: $(STATICCHECK_STAMP)
	$(STATICCHECK) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## test-faults: the fault suite alone (faults at every step, on the real stack); writes docs/reliability.md
test-faults: tools build
	set -o pipefail; TEMPORAL_DEBUG=1 AUTHOPS_BIN=$(BIN) AUTHOPS_RELIABILITY_REPORT=1 $(GO) test -race -count=1 -timeout 30m -run 'TestFault' -v ./e2e | grep -E '^(=== RUN|--- |PASS|FAIL|ok)'

## unit: the fast tests only (no dev server)
unit:
	$(GO) test -race -count=1 -short ./...

## fuzz: longer fuzzing runs (not part of make test)
fuzz:
	$(GO) test ./internal/envfile -run '^$$' -fuzz FuzzDotenv -fuzztime 60s
	$(GO) test ./internal/config -run '^$$' -fuzz FuzzParse -fuzztime 60s
	$(GO) test ./contract -run '^$$' -fuzz '^FuzzCleanText$$' -fuzztime 60s
	$(GO) test ./contract -run '^$$' -fuzz '^FuzzValidatePrefixes$$' -fuzztime 60s
	$(GO) test ./internal/controls -run '^$$' -fuzz '^FuzzValidateCIDRs$$' -fuzztime 60s
	$(GO) test ./internal/edge -run '^$$' -fuzz '^FuzzRender$$' -fuzztime 60s
	$(GO) test ./internal/statement -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime 60s
	$(GO) test ./internal/statement -run '^$$' -fuzz '^FuzzEncode$$' -fuzztime 60s
	$(GO) test ./starter -run '^$$' -fuzz '^FuzzWriteTimeline$$' -fuzztime 60s
	$(GO) test ./internal/report -run '^$$' -fuzz '^FuzzMarkdown$$' -fuzztime 60s
	$(GO) test ./internal/notify -run '^$$' -fuzz '^FuzzEscape$$' -fuzztime 60s
	$(GO) test ./starter/gateway -run '^$$' -fuzz '^FuzzParseCommand$$' -fuzztime 60s
	$(GO) test ./starter/gateway -run '^$$' -fuzz '^FuzzParseAlertmanager$$' -fuzztime 60s
	$(GO) test ./starter/gateway -run '^$$' -fuzz '^FuzzInteraction$$' -fuzztime 60s

## bench: print figures (exposure window, time-to-verified, load: issue 8) on the local machine.
## Sizes: AUTHOPS_BENCH_ROTATIONS (50), AUTHOPS_BENCH_EMERGENCIES (20), AUTHOPS_BENCH_STARTS (1000),
## AUTHOPS_BENCH_STARTER_SAMPLE (50), AUTHOPS_BENCH_DECISIONS_OPEN (100), AUTHOPS_BENCH_OVERHEAD_RUNS (5),
## AUTHOPS_BENCH_SLACK_CONCURRENT (100), AUTHOPS_BENCH_SLACK_CLICKS (5).
bench: tools build
	set -o pipefail; AUTHOPS_BENCH=1 AUTHOPS_BIN=$(BIN) $(GO) test -count=1 \
	  -run "TestExposureWindow|TestRotationByStore|TestDecisionRoundTrip|TestOverheadVsScript|TestLoadThousandRuns|TestLoadRotationsAndEmergency|TestSlackAck" \
	  -v -timeout 90m ./bench | grep -v -E "^(20[0-9][0-9]/|time=)"

clean:
	rm -rf var $(BIN)/worker $(BIN)/starter $(BIN)/authbackend $(BIN)/devstack
