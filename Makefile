# Two entry points do all the set-up on a fresh machine:
#   make report   creates .venv, installs everything, runs the conformance suite, writes reports/
#   make test     creates .venv the same way and runs the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is pinned here (and only here and in .ci/run's call of make) to the CPU wheel on local disk;
# any other spec makes pip download a multi-GB CUDA build.
TORCH  := torch==2.13.0
ENGINES := refengine torch

.PHONY: venv build test report report-slow-peers bench clean

# Debian packages some tests and engines need: chromium renders the HTML report in a test; clang is
# the C compiler tinygrad's CPU device needs.  Installed when missing and we are root; else a warning.
SYSDEPS := chromium clang

$(STAMP): pyproject.toml setup.py
	@missing=""; for p in $(SYSDEPS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "warning: could not install$$missing; the tests that need them will be skipped" >&2; \
	  else echo "warning: missing$$missing (apt-get install$$missing); the tests that need them will be skipped" >&2; fi; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,torch,peers]'
	touch $(STAMP)

venv: $(STAMP)

# Recompile the Cython extensions after editing a .pyx (incremental), and byte-compile the project's modules:
# an editable install compiles none, and where PYTHONDONTWRITEBYTECODE is set (as in this project's sandboxes)
# every process compiled the harness anew at its start (~0.3 s, twice per run: the run and its forkserver).
build: $(STAMP)
	$(BIN)/python setup.py -q build_ext --inplace
	$(BIN)/python -m compileall -q conformance refengine benchmarks

test: build
	$(BIN)/python -m pytest -q tests

# The main job: every engine's conformance report in reports/ENGINE/, and the merged matrix in
# reports/index.html.  A nonconformant engine is a finding, not a failure of the job: only
# configuration errors (exit 2) stop it.  Engines listed in conformance/engines/expectations/ run with their
# expected-deviations file.  tinygrad and jax compile every op per shape: at ci they get a time budget
# (--budget, minutes of wall time: examples per cell are scaled down to fit and results.json says so);
# jax and tinygrad keep their compiled code in the user's cache, so a second run gets further.  The budgets
# are the smallest measured to find what a longer run finds: tinygrad in 10 minutes finds its findings of
# many cells every time (28-34 of 34, by the machine's speed; the missing ones are each of one cell); jax
# in 10 minutes, from an empty cache, finds all 9 of the unbudgeted run's findings (README, docs/findings.md).
ENGINES    := refengine torch micrograd mygrad autograd
SLOW_PEERS := tinygrad jax
BUDGET_tinygrad := 10
BUDGET_jax := 10
define run_engine
	@st=0; exp=conformance/engines/expectations/$(1).toml; \
	echo "== conformance run --engine $(1) --profile $(2)"; \
	$(BIN)/conformance run --engine $(1) --profile $(2) --seed 0 -q --report reports/$(1) $(3) \
	  $$( [ -f $$exp ] && echo --expect $$exp ) || st=$$?; \
	if [ $$st -ge 2 ]; then exit $$st; fi

endef

# Heavy engines with their own extras: paddle (pip install -e '.[paddle]', ~870 MB) and tensorflow
# ('.[tensorflow]', ~1.6 GB) run in `make report` when installed (ci, one worker: 5-20 and 6-16 minutes here
# under load); torch-compile needs only torch but compiles every new program (hours at ci on 2 cores), so it
# is in report-slow-peers.  Each runs in its own process, one worker, with a long per-example timeout.
HEAVY_PEERS := paddle tensorflow
MODULE_paddle := paddle
MODULE_tensorflow := tensorflow
MODULE_torch-compile := torch
define run_heavy
	@if $(BIN)/python -c "import $(MODULE_$(1))" >/dev/null 2>&1; then \
	  st=0; exp=conformance/engines/expectations/$(1).toml; \
	  echo "== conformance run --engine $(1) --profile $(2) --workers 1"; \
	  $(BIN)/conformance run --engine $(1) --profile $(2) --seed 0 -q --workers 1 --timeout 300 --report reports/$(1) \
	    $$( [ -f $$exp ] && echo --expect $$exp ) || st=$$?; \
	  if [ $$st -ge 2 ]; then exit $$st; fi; \
	else echo "== skipping --engine $(1): $(MODULE_$(1)) is not installed"; fi

endef

report: build
	$(foreach e,$(ENGINES),$(call run_engine,$(e),ci))
	$(foreach e,$(SLOW_PEERS),$(call run_engine,$(e),ci,--budget $(BUDGET_$(e))))
	$(foreach e,$(HEAVY_PEERS),$(call run_heavy,$(e),ci))
	$(BIN)/conformance report merge $$(ls -d reports/*/ | sed 's:/$$::') --out reports
	$(BIN)/conformance report table $$(ls -d reports/*/ | sed 's:/$$::') --update docs/findings.md

# jax and tinygrad at ci without a budget (jax: 28 minutes here with a cold compilation cache; tinygrad:
# over an hour by projection, most of it exploring and shrinking its many failing cells), and torch-compile
report-slow-peers: build
	$(foreach e,$(SLOW_PEERS),$(call run_engine,$(e),ci))
	$(call run_heavy,torch-compile,ci)
	$(BIN)/conformance report merge $$(ls -d reports/*/ | sed 's:/$$::') --out reports
	$(BIN)/conformance report table $$(ls -d reports/*/ | sed 's:/$$::') --update docs/findings.md

bench: build
	$(BIN)/python -m benchmarks

clean:
	rm -rf build $(VENV) refengine/*.so refengine/*.c refengine/**/*.so refengine/**/*.c
