# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := tools/node_modules/.installed
# Browser assets copied from the pinned npm packages (tools/web-vendor.js); not committed.
WEB_VENDOR := wallet_server/web/vendor/VERSIONS.json

.PHONY: demo dev test test-fast lint setup clean contracts bench screenshots

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

$(NODE_STAMP): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(WEB_VENDOR): $(NODE_STAMP) tools/web-vendor.js
	node tools/web-vendor.js

setup: $(STAMP) $(NODE_STAMP) $(WEB_VENDOR)

demo: setup
	$(VENV)/bin/vcsdk demo

# A local city (anvil, contracts, KYC registry, wallet server) until Ctrl-C; see docs/local-city.md.
dev: setup
	$(VENV)/bin/vcsdk dev up

# The suite runs on every core (pytest-xdist; JOBS=1 for one process).
JOBS ?= auto

test: setup
	$(PY) -m pytest -q -n $(JOBS)

# Everything but the slow suites (load, soak, fuzz, browser), for quick local edits.
test-fast: setup
	$(PY) -m pytest -q -n $(JOBS) -m "not slow"

lint: setup
	$(VENV)/bin/ruff check vcsdk wallet_server tests examples bench
	$(VENV)/bin/mypy

contracts: setup
	$(PY) -m vcsdk.registry.compile

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) tools/node_modules wallet_server/web/vendor .pytest_cache .mypy_cache .ruff_cache

# Re-take the phone-size screenshots of every web screen into docs/screenshots (the browser tests).
screenshots: setup
	VCSDK_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q -m browser tests/browser
