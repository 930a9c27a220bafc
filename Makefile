# corral's front door. `make` (or `make help`) lists the targets.

SHELL := bash
.DEFAULT_GOAL := help

GO          ?= go
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
BIN         := bin/corral
# Each benchmark runs this long; with -count=1 the whole suite stays a few minutes.
BENCHTIME   ?= 300ms
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
COMPOSE     ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
COMPOSE_FILE := docker-compose.yml

.PHONY: help build run test chaos bench lint up down test-compose dist image clean

help: ## Show this help.
	@echo "usage: make <target>"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/corral (version from git describe) and bin/corral-logger (the agent's task log writer).
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/corral
	$(GO) build -o $(dir $(BIN))corral-logger ./cmd/corral-logger

run: build ## Run `corral dev`: master, 2 agents, services, jobs, console, private Postgres; Ctrl-C stops all (ARGS=--fresh starts over).
	./$(BIN) dev $(ARGS)

test: ## Run all tests with the race detector (starts its own Postgres, ZooKeeper and headless Chromium).
	$(GO) test -race -count=1 -timeout 40m ./...

# The chaos suite writes its summary table here too, so that it can be
# printed last, after the verbose test output.
CHAOS_SUMMARY := bin/chaos-summary.txt

chaos: ## Run the chaos suite (as root): one real cluster per fault, invariants checked, summary table.
	@mkdir -p bin && rm -f $(CHAOS_SUMMARY)
	@CORRAL_CHAOS_SUMMARY=$(CURDIR)/$(CHAOS_SUMMARY) $(GO) test -tags chaos -count=1 -timeout 40m -v ./chaos/; \
	rc=$$?; if [ -f $(CHAOS_SUMMARY) ]; then echo; cat $(CHAOS_SUMMARY); fi; exit $$rc

bench: ## Run all benchmarks once, BENCHTIME each (default 300ms).
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) -count=1 -timeout 30m ./...

lint: ## gofmt (must list nothing), go vet, staticcheck.
	@files=$$(find . \( -name .git -o -name .corral -o -name bin \) -prune -o -name '*.go' -print | xargs gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The agents of `make up` run DOCKER containers too when this machine's
# Docker engine socket is there to mount into them (CORRAL_ENGINE_SOCKET
# overrides; /dev/null: never).
up: ## Build the images and start the compose HA cluster (console on https://127.0.0.1:5050; Docker apps run when the engine's socket is there).
	CORRAL_ENGINE_SOCKET=$${CORRAL_ENGINE_SOCKET:-$$(scripts/compose-agents.sh socket)} \
		CORRAL_VERSION=$(VERSION) $(COMPOSE) -f $(COMPOSE_FILE) up -d --build

down: ## Stop the compose cluster and its agents' Docker containers, keeping its data (DROP=1 drops it: volumes, agents' work dirs).
	$(COMPOSE) -f $(COMPOSE_FILE) down $(if $(DROP),-v)
	scripts/compose-agents.sh clean $(if $(DROP),--drop)

test-compose: ## Build and start the compose cluster under test ports, deploy apps (Docker too) and jobs, fail over; tear down.
	./scripts/compose-test.sh

dist: ## Release build: static corral and corral-logger for linux/amd64 and arm64, VERSION compiled in, as tarballs with SHA256SUMS in dist/VERSION.
	GO=$(GO) scripts/dist.sh $(VERSION)

# GO_MODULES_IMAGE=$$(scripts/compose-go-modules.sh) feeds the build the
# host's Go modules, for build containers that cannot reach the module proxy.
image: ## Build the Docker image as corral:VERSION (and corral:local, which compose runs); needs the base images `make test-compose` makes.
	docker build --build-arg VERSION=$(VERSION) --build-arg GOPROXY=$(CORRAL_GOPROXY) \
		$(if $(GO_MODULES_IMAGE),--build-arg GO_MODULES_IMAGE=$(GO_MODULES_IMAGE)) -t corral:$(VERSION) -t corral:local .

clean: ## Remove bin/, dist/ and .corral/ (the state of `make run`: Postgres data, agent sandboxes).
	@if [ -f .corral/pg/data/postmaster.pid ]; then \
		echo "a corral dev Postgres still runs in .corral/pg; stop 'make run' first"; exit 1; fi
	rm -rf bin dist .corral
