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

.PHONY: venv build test report bench clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,torch]'
	touch $(STAMP)

venv: $(STAMP)

# Recompile the Cython extensions after editing a .pyx (incremental).
build: $(STAMP)
	$(BIN)/python setup.py -q build_ext --inplace

test: build
	$(BIN)/python -m pytest -q tests

report: build
	@set -e; for e in $(ENGINES); do \
	  echo "== conformance run --engine $$e"; \
	  $(BIN)/conformance run --engine $$e --profile ci --seed 0 --report reports/$$e || st=$$?; \
	  if [ "$${st:-0}" -ge 2 ]; then exit $$st; fi; \
	done; \
	$(BIN)/conformance report merge $(addprefix reports/,$(ENGINES)) --out reports

bench: build
	$(BIN)/python -m benchmarks

clean:
	rm -rf build $(VENV) refengine/*.so refengine/*.c refengine/**/*.so refengine/**/*.c
