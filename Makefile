# The two commands a new user needs: `make dev` and `make test`. Everything else is for contributors.
SHELL := /bin/bash
# One Python everywhere: .python-version (pyenv), template.yaml's runtime, CI.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# Python's default, whatever the environment says: every process make starts (pytest, the local stacks,
# sam, the fuzzer) reuses the .pyc the first one wrote instead of compiling its imports again.
export PYTHONDONTWRITEBYTECODE :=

.PHONY: dev test test-contract test-fuzz test-contract-but-fuzz unit integration emulator e2e contract lint openapi build \
	bench lock lock-checkov checkov clean

# pip installs the lock's own uv (its hashed lines only), then uv installs the whole lock, in under half
# the time pip takes for it. Not compiled at install: that compiled every module of the lock (sympy, all of
# moto and botocore) for 35-38 s of CPU before any test could start, most of it never imported. Python
# compiles what a process imports and writes the .pyc for the next one (below), so each is compiled once.
# pip itself runs from the wheel ensurepip bundles, as ensurepip does, instead of being installed into the
# venv first (5.3 s of CPU, 18 s wall on a loaded machine, for a pip that uv replaces); where a Python ships
# no bundled wheel (some distributions) ensurepip installs it.
define RUN_BUNDLED_PIP
import ensurepip, glob, os, runpy, sys
wheels = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl"))
if wheels:
    sys.path.insert(0, wheels[0])
else:
    ensurepip.bootstrap()
runpy.run_module("pip", run_name="__main__", alter_sys=True)
endef
export RUN_BUNDLED_PIP

$(BIN)/.installed: requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	@awk '/^uv==/ {take = 1; print; next} take && /^ / {print; next} {take = 0}' requirements.lock \
		> $(VENV)/uv.lock.txt
	$(BIN)/python -c "$$RUN_BUNDLED_PIP" install --quiet --require-hashes --no-deps -r $(VENV)/uv.lock.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python pip==25.3
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes --no-deps -r requirements.lock
	@# What every session imports, compiled once here (~5 s of CPU): `make test` starts four at once, and
	@# each would compile the same modules itself before any had written their .pyc.
	-$(BIN)/python -c "import devstack.stack, pytest, schemathesis.cli"
	@touch $@

venv: $(BIN)/.installed

# checkov in a virtualenv of its own: it pins packaging<24, which the test tools cannot use. Made with the
# uv of .venv from its own hashed lock; tests/contract/test_checkov.py runs it. Without pip: uv installs
# into it, and ensurepip's copy of pip cost 5 s of CPU (48 s wall on a loaded machine) for nothing.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.lock | $(BIN)/.installed
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(CHECKOV_VENV)
	$(BIN)/uv pip install --quiet --python $(CHECKOV_VENV)/bin/python --require-hashes --no-deps \
		-r requirements-checkov.lock
	@touch $@

checkov: $(CHECKOV_VENV)/.installed  ## checkov on template.yaml (.checkov.yaml says what it skips and why)
	$(CHECKOV_VENV)/bin/python tests/contract/checkov_run.py --config-file .checkov.yaml --skip-download

dev: venv  ## start the local stack on 127.0.0.1:$${RUNS_API_PORT:-3000}
	$(BIN)/python -m devstack

# Six pytest sessions, four at a time, sharing nothing: the fuzzer (tests/contract/test_fuzz.py, the longest
# test by far) and the integration tier (the longest in-process one) start at once, with the rest of the
# contract tier (`sam build`, checkov, cfn-lint: subprocesses) and e2e; emulator and unit start as the first
# ones end. A session is one interpreter: the in-process tiers together (~200 s of CPU) could use only one
# core, and the fuzzer's client and its local server take turns (a request, then its checks), so it keeps
# less than one busy: more sessions than cores fill the gaps. Each session's output is printed whole when
# it ends (--output-sync); each runs even if another failed (-k), and `make test` fails if any does.
# runs_core is compiled first: sessions import it while `sam build` (test_template.py) copies its folder,
# and a .pyc being written there could vanish between the copy's listing and its read.
# The checkov virtualenv is made first: as a prerequisite inside the -j4 make it took a job slot and held
# back the contract session until emulator and e2e had gone ahead, and that session then ended last.
test: venv $(CHECKOV_VENV)/.installed  ## every test tier: unit, integration, emulator (devstack's own), e2e, contract
	@$(BIN)/python -m compileall -q layers/runs_core
	@$(MAKE) --no-print-directory -k -j4 --output-sync=target test-fuzz integration test-contract-but-fuzz \
		e2e emulator unit

test-contract: test-fuzz test-contract-but-fuzz

test-fuzz: venv
	$(BIN)/python -m pytest tests/contract/test_fuzz.py

test-contract-but-fuzz: venv $(CHECKOV_VENV)/.installed
	$(BIN)/python -m pytest tests/contract --ignore=tests/contract/test_fuzz.py

unit integration emulator e2e: venv
	$(BIN)/python -m pytest tests/$@

contract: test-contract

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The OpenAPI document DocsFunction serves and MethodNotAllowedFunction's Allow headers come from, generated
# from the routers and models; tests/contract/test_openapi.py fails until it is regenerated after a change.
openapi: venv  ## regenerate layers/runs_core/runs_core/api/openapi.json from the routes
	PYTHONPATH=layers/runs_core $(BIN)/python -m runs_core.api.spec

build: venv  ## sam build (arm64 layer and functions) into .aws-sam/
	$(BIN)/sam build --template-file template.yaml

bench: venv
	$(BIN)/python -m bench

# The Lambda runtime's own boto3 stack: the layer must not ship botocore (aws-xray-sdk pulls it in) or what
# only botocore needs, or the runtime's boto3 would run on a botocore it was never released with.
RUNTIME_PROVIDED := botocore python-dateutil six urllib3

lock: venv  ## re-pin every dependency after editing pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.12 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --python-version 3.12 --python-platform aarch64-manylinux_2_28 \
		-c requirements.lock --no-header --no-annotate $(RUNTIME_PROVIDED:%=--no-emit-package %) \
		-o layers/runs_core/requirements.txt

lock-checkov: venv  ## re-pin checkov after editing requirements-checkov.in
	$(BIN)/uv pip compile requirements-checkov.in --universal --python-version 3.12 --generate-hashes \
		-o requirements-checkov.lock

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache
