# stormwatch: `make demo` runs the scenario on the local stack, `make test` checks everything.
# Everything installs itself into .venv and .tools on first use (Python 3.13 and 3.12 needed).

SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PY313 := $(shell PYENV_VERSION=3.13.0 pyenv which python 2>/dev/null || command -v python3.13)
PY312 := $(shell PYENV_VERSION=3.12.1 pyenv which python 2>/dev/null || command -v python3.12)
VENV := .venv
TOOLS := .tools
PYTHON := $(VENV)/bin/python
PIP_QUIET := --quiet --disable-pip-version-check

export SAM_CLI_TELEMETRY := 0
# Python's bytecode cache on, as Python has it by default (some machines' environments turn
# it off): otherwise every test worker, every subprocess a test starts and every tool
# compiles every module it imports again (collecting the tests: 7.3 s without, 2.4 s with).
export PYTHONDONTWRITEBYTECODE :=
export PYTHONPATH := $(CURDIR)/layers/core:$(CURDIR)
# sam build looks for `python3.13` on PATH: the venv provides it.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
WHEELHOUSE := $(TOOLS)/wheelhouse
DICTIONARIES := layers/core/stormwatch/act/dictionaries/.complete
FONTS := layers/core/stormwatch/act/fonts/.complete
# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work
# here); tests/browser finds it at this path.
CHROMIUM := /usr/bin/chromium

.PHONY: help setup lint template test test-fast demo local console screenshots build bench clean

help:
	@echo "make demo       run the storm scenario on the embedded local stack"
	@echo "make test       lint, type-check, template checks and the whole test suite"
	@echo "make test-fast  pytest only (no template tools, no sam build)"
	@echo "make local      keep the local stack running, with its Act API, for stormwatch commands"
	@echo "make console    the console in a browser, on the local stack, with demo users"
	@echo "make screenshots the console's pages as PNGs in docs/screenshots/ (Chromium)"
	@echo "make build      sam build (arm64, no container needed)"
	@echo "make bench      run the benchmarks under bench/"

$(VENV)/.installed: requirements/dev.lock
	@test -n "$(PY313)" || { echo "Python 3.13 is required (pyenv install 3.13.0)"; exit 1; }
	$(PY313) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_QUIET) -r requirements/dev.lock
	@# The layer's package and the repo's tools on the venv's path, as an editable install
	@# would put them: `.venv/bin/python -m bench.ingest` works from any directory.
	printf '%s\n%s\n' "$(CURDIR)/layers/core" "$(CURDIR)" \
		> "$$($(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/stormwatch-dev.pth"
	@# The `stormwatch` command (pyproject's [project.scripts]) on the venv's PATH.
	$(VENV)/bin/pip install $(PIP_QUIET) --no-deps --no-build-isolation -e .
	@touch $@

$(TOOLS)/sam/.installed: requirements/sam.lock
	@test -n "$(PY313)" || { echo "Python 3.13 is required (pyenv install 3.13.0)"; exit 1; }
	$(PY313) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install $(PIP_QUIET) -r requirements/sam.lock
	@touch $@

# checkov pins an old boto3, so it lives in a venv of its own.
$(TOOLS)/checkov/.installed: requirements/checkov.lock
	@test -n "$(PY312)" || { echo "Python 3.12 is required (pyenv install 3.12.1)"; exit 1; }
	$(PY312) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install $(PIP_QUIET) -r requirements/checkov.lock
	@touch $@

# Wheels of the layer for arm64 Lambda and for this machine, so the build test runs offline.
$(WHEELHOUSE)/.complete: layers/core/requirements.txt $(VENV)/.installed
	rm -rf $(WHEELHOUSE)
	$(VENV)/bin/pip download $(PIP_QUIET) -r layers/core/requirements.txt -d $(WHEELHOUSE)
	$(VENV)/bin/pip download $(PIP_QUIET) --platform manylinux2014_aarch64 --python-version 3.13 \
		--only-binary=:all: -r layers/core/requirements.txt -d $(WHEELHOUSE)
	@touch $@

# The spell checker's Hunspell dictionaries, pinned and checksummed, into the layer's source
# (so `sam build` ships them): npm's registry and Debian's archive, see the script.
$(DICTIONARIES): scripts/dictionaries/fetch.py scripts/pinned_download.py
	$(PY313) scripts/dictionaries/fetch.py

# The Instagram image card's font (DejaVu Sans, Debian's archive), pinned and checksummed.
$(FONTS): scripts/fonts/fetch.py scripts/pinned_download.py
	$(PY313) scripts/fonts/fetch.py

# Debian's chromium package (apt-get needs root, as on the CI machine; elsewhere install it
# yourself: `sudo apt-get install chromium`).
$(CHROMIUM):
	apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }

setup: $(VENV)/.installed $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed $(WHEELHOUSE)/.complete $(DICTIONARIES) $(FONTS) $(CHROMIUM)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

template: setup
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region eu-central-1
	$(PYTHON) -m local.cfn > $(TOOLS)/template.cfn.json
	$(CHECKOV) --quiet --compact --skip-download --config-file .checkov.yaml \
		--framework cloudformation -f template.yaml -f $(TOOLS)/template.cfn.json

# Two workers, a module (or a class of tests) per worker at a time, the longest first
# (--dist loadscope --no-loadscope-reorder, also in pyproject.toml). CI runs each Hypothesis property in full (HYPOTHESIS_PROFILE=ci); test-fast
# runs a fifth of the examples (the `dev` profile, tests/conftest.py).
test: setup lint template
	HYPOTHESIS_PROFILE=ci $(PYTHON) -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder

test-fast: $(VENV)/.installed $(DICTIONARIES) $(FONTS) $(CHROMIUM)
	$(PYTHON) -m pytest -q -n 2 --dist loadscope --no-loadscope-reorder -m "not build"

demo: $(VENV)/.installed $(DICTIONARIES) $(FONTS)
	$(PYTHON) -m local.demo

local: $(VENV)/.installed $(DICTIONARIES) $(FONTS)
	$(PYTHON) -m local.serve

console: $(VENV)/.installed $(DICTIONARIES) $(FONTS)
	$(PYTHON) -m local.console

screenshots: $(VENV)/.installed $(DICTIONARIES) $(FONTS) $(CHROMIUM)
	$(PYTHON) -m local.screenshots

build: setup
	$(SAM) build

bench: $(VENV)/.installed $(DICTIONARIES) $(FONTS)
	$(PYTHON) -m bench.ingest
	$(PYTHON) -m bench.evaluate
	$(PYTHON) -m bench.coldstart
	$(PYTHON) -m bench.text_analysis
	$(PYTHON) -m bench.spelling
	$(PYTHON) -m bench.release
	$(PYTHON) -m bench.cost
	$(PYTHON) -m bench.storm_scale
	$(PYTHON) -m bench.nab --data ../shared/data/nab-tweets --out out/nab

clean:
	rm -rf .aws-sam out $(TOOLS)/template.cfn.json $(TOOLS)/sam-build .pytest_cache .mypy_cache .ruff_cache
