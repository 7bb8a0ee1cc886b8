# Quick start:  make demo   (installs into .venv, writes genomap_demo.png)
#               make test   (installs into .venv, runs the test suite)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.genomap_fast-installed
SOURCES := pyproject.toml CMakeLists.txt $(shell find cpp python -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: install demo test docs sanitize sanitize-build fuzz-long bench bench-quick lint stubs clean

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

# The documentation site (docs/: MyST pages, API reference generated from the code, the gallery
# of examples/plot_*.py executed by sphinx-gallery) into build/docs, warnings as errors. The
# packages of pyproject's `docs` extra are installed by name: `pip install ".[docs]"` would
# rebuild the C++ package.
DOC_PACKAGES := "sphinx>=7" "myst-parser>=2" "furo>=2023.9" "sphinx-gallery>=0.17"
# The docstring examples run as doctests on the installed package (docs/doctest_plugin.py);
# the site is built nitpicky (-n): a reference to a genomap_fast name that does not resolve fails.
DOCTEST_MODULES := genomap_fast.compat genomap_fast.estimator genomap_fast.placement \
	genomap_fast.interaction genomap_fast.backends genomap_fast._memory genomap_fast._validate \
	genomap_fast.tl genomap_fast.plotting genomap_fast.store genomap_fast.io \
	genomap_fast.distributed genomap_fast.cnn.tasks genomap_fast.cnn.base \
	genomap_fast.cnn.cluster genomap_fast.cnn.traj genomap_fast.cnn.moi \
	genomap_fast.cnn.signature genomap_fast.cnn.data genomap_fast._codecs \
	genomap_fast.annotate genomap_fast.datasets genomap_fast.h5ad
docs: install
	$(PY) -m pip install -q $(DOC_PACKAGES)
	$(PY) -m pytest -q -p no:cacheprovider -p docs.doctest_plugin --doctest-modules \
		-o doctest_optionflags="NORMALIZE_WHITESPACE ELLIPSIS" --pyargs $(DOCTEST_MODULES)
	$(VENV)/bin/sphinx-build -W --keep-going -n -b html docs build/docs

# The C++ core built with AddressSanitizer + UndefinedBehaviorSanitizer in its own build dir,
# next to a copy of the pure-Python package (build/sanitize/pkg), and the tests that exercise
# the core run against it. CPython is not instrumented: the ASan runtime is preloaded and leak
# detection is off (CPython's own allocations at exit are not leaks of ours).
SAN_DIR := build/sanitize
SAN_TESTS ?= tests/test_solvers.py tests/test_multilevel.py tests/test_fuzz_core.py \
	tests/test_fuzz_api.py tests/test_fuzz_sparse.py tests/test_fuzz_threads.py \
	tests/test_fuzz_io.py tests/test_concurrency.py \
	tests/test_anneal.py::test_log_cost_lookup_through_displacement_table_equals_dense \
	tests/test_anneal.py::test_class_major_hot_phase_then_gene_blocks
# libstdc++ is preloaded with the ASan runtime: python itself does not link it, and ASan's
# __cxa_throw interceptor must find it at start-up (else every C++ exception aborts).
SAN_ENV = LD_PRELOAD="$$($(CXX) -print-file-name=libasan.so) $$($(CXX) -print-file-name=libstdc++.so)" \
	ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=0:log_path=$(CURDIR)/$(SAN_DIR)/report \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$(CURDIR)/$(SAN_DIR)/report \
	PYTHONPATH=$(CURDIR)/$(SAN_DIR)/pkg GENOMAP_FAST_SANITIZED=1

sanitize-build: install
	# pybind11's CMake config (the package build gets it in its isolated build environment)
	$(PY) -m pip install -q "pybind11>=2.12"
	cmake -S . -B $(SAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
		-DGENOMAP_FAST_SANITIZE=address,undefined -DSKBUILD_PROJECT_VERSION=0.1.0 \
		-DPython_EXECUTABLE=$(CURDIR)/$(PY) \
		-Dpybind11_DIR=$$($(PY) -m pybind11 --cmakedir) > $(SAN_DIR).log
	cmake --build $(SAN_DIR) --target _core -j 2 >> $(SAN_DIR).log
	rm -rf $(SAN_DIR)/pkg && mkdir -p $(SAN_DIR)/pkg
	cp -r python/genomap_fast $(SAN_DIR)/pkg/
	cp $(SAN_DIR)/_core*.so $(SAN_DIR)/pkg/genomap_fast/

sanitize: sanitize-build
	cd $(SAN_DIR) && $(SAN_ENV) $(CURDIR)/$(PY) -c \
		"import genomap_fast, os; assert genomap_fast.__file__.startswith(os.getcwd()), genomap_fast.__file__"
	rm -f $(SAN_DIR)/report.*
	$(SAN_ENV) $(PY) -m pytest -q -p no:cacheprovider $(SAN_TESTS) || \
		{ cat $(SAN_DIR)/report.* 2>/dev/null; exit 1; }
	@if ls $(SAN_DIR)/report.* >/dev/null 2>&1; then cat $(SAN_DIR)/report.*; exit 1; fi
	@echo "sanitize: no ASan/UBSan findings"

# the long fuzz profile (before a release)
fuzz-long: install
	$(PY) -m pytest -q tests/test_fuzz_core.py tests/test_fuzz_api.py tests/test_fuzz_io.py \
		--hypothesis-profile=long

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
