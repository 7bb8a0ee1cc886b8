# Quick start:  make demo   (installs into .venv, writes genomap_demo.png)
#               make test   (installs into .venv, runs the test suite)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genomap_fast-installed
SOURCES := pyproject.toml CMakeLists.txt $(shell find cpp python -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: install demo test bench bench-quick lint stubs clean

install: $(STAMP)

$(STAMP): $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU wheel of torch first: a bare `torch` requirement would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q ".[test,demo,cnn]"
	# The reference (genomap 1.3.6) without its TensorFlow/torch stack: construct_genomap
	# only needs numpy, scikit-learn and POT, which the test extra installs.
	$(PY) -m pip install -q --no-deps genomap==1.3.6
	touch $(STAMP)

demo: install
	$(VENV)/bin/genomap-fast demo --out genomap_demo.png

test: install
	$(PY) -m pytest -q tests

bench: install
	$(PY) -m pytest benchmarks -q -p no:cacheprovider

bench-quick: install
	$(PY) -m pytest benchmarks -q -p no:cacheprovider --bench-quick

lint: install
	$(PY) -m pip install -q ruff
	$(VENV)/bin/ruff check python tests benchmarks

# python/genomap_fast/_core.pyi from the built extension (after changing the bindings)
stubs: install
	$(PY) -m pip install -q pybind11-stubgen ruff
	$(PY) tools/generate_stubs.py

clean:
	rm -rf build $(VENV) genomap_demo.png
