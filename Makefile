# The two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := run

# Keep build output outside the clone if you like (CI does): CARGO_TARGET_DIR=~/.cache/... make test
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
# cargo-leptos sets this when it compiles; setting it here too lets both share compiled crates.
export LEPTOS_OUTPUT_NAME := gatehouse
export LEPTOS_SITE_ROOT := $(CARGO_TARGET_DIR)/site
BIN := $(CARGO_TARGET_DIR)/debug/gatehouse
RELEASE_BIN := $(CARGO_TARGET_DIR)/release/gatehouse
TOOLS := $(CURDIR)/.tools

.PHONY: run test setup setup-e2e build unit e2e lint release run-release bench bench-postgres dev dev-tools

## run: build and start Gatehouse on http://127.0.0.1:3000 (data in ./data)
run: setup build
	$(BIN) serve

## test: unit + integration + browser end-to-end tests
test: setup-e2e build unit e2e

setup:
	@scripts/setup.sh

setup-e2e: setup
	@scripts/setup.sh --e2e

build:
	cargo run -q -p xtask -- build

# nextest runs each test in its own process: in-process servers of different tests never
# share a runtime or process-global state.
unit:
	cargo nextest run --workspace --exclude xtask --features gatehouse-app/ssr
	scripts/with-postgres.sh cargo nextest run -p gatehouse-app --features ssr --test it

e2e:
	GATEHOUSE_BIN=$(BIN) npm --prefix end2end test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --exclude xtask --features gatehouse-app/ssr --all-targets -- -D warnings

## release: optimized server + size-optimized wasm (wasm-opt from npm's binaryen)
release: setup
	@[ -x $(TOOLS)/node_modules/.bin/wasm-opt ] || npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error binaryen@132.0.0
	PATH="$(TOOLS)/node_modules/.bin:$$PATH" cargo run -q -p xtask -- build --release

run-release: release
	$(RELEASE_BIN) serve

## bench: DESIGN.md §11 measurements against the release binary (results: BENCHMARKS.md),
## driven by wrk with nginx as the reverse-proxy baseline (both installed from Debian).
bench: release
	@scripts/setup.sh --bench
	cargo run -q --release -p gatehouse-bench -- $(RELEASE_BIN)

## bench-postgres: the gateway and /token on SQLite, then on a throwaway PostgreSQL cluster
## with its durable defaults (BENCHMARKS.md, "Postgres beside SQLite")
bench-postgres: release
	@scripts/setup.sh --bench
	@scripts/setup.sh --postgres
	cargo build -q --release -p gatehouse-bench
	BENCH_ONLY=store $(CARGO_TARGET_DIR)/release/gatehouse-bench $(RELEASE_BIN)
	scripts/with-postgres.sh --durable sh -c 'BENCH_ONLY=store BENCH_DATABASE_URL=$$GATEHOUSE_TEST_POSTGRES/postgres $(CARGO_TARGET_DIR)/release/gatehouse-bench $(RELEASE_BIN)'

## dev: `cargo leptos watch` (rebuilds and reloads on change). Installs cargo-leptos and
## wasm-bindgen-cli (debug builds, ~10 min once) into ~/.cache/gatehouse/tools.
DEV_TOOLS := $(HOME)/.cache/gatehouse/tools
WASM_BINDGEN_VERSION := $(shell grep -A1 'name = "wasm-bindgen"$$' Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p')
dev-tools:
	@[ -x $(DEV_TOOLS)/bin/cargo-leptos ] || cargo install cargo-leptos --locked --version 0.3.10 --features no_downloads --debug --root $(DEV_TOOLS)
	@$(DEV_TOOLS)/bin/wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" || CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --debug --root $(DEV_TOOLS)

dev: setup dev-tools
	PATH="$(DEV_TOOLS)/bin:$$PATH" cargo leptos watch

