# shanshui: the two commands a newcomer runs.
#
#   make demo   build the library and the Python extension, train the translation demo
#   make test   build and run every C++ test (Release and ASan+UBSan) and every
#               Python test (including the PyTorch oracle)
#
# Each target installs what it needs on a fresh Debian machine: Debian packages
# through apt-get (only when one is missing) and Python packages through pip.
# A stamp file per requirement set keeps repeated runs fast.

PYTHON     ?= python3
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2

# Debian packages the build needs. cmake and ninja are taken from PATH when
# there (pip's wheels often are) and installed from Debian otherwise.
APT_PACKAGES := g++ libopenblas-openmp-dev libopenblas-dev catch2 \
                nlohmann-json3-dev libstb-dev libcli11-dev libopenmpi-dev openmpi-bin ccache
# zlib: the ViT demo (examples/cpp/vit_classify.cpp) reads the gzip'd idx files with it.
APT_PACKAGES += zlib1g-dev

# Data the demos train on, shipped by Debian (../shared/data/README.md): text
# for the masked LM, Fashion-MNIST for the ViT, Bibles for real-data
# translation. The tests run the demos' short modes, so `make test` wants them too.
DEMO_APT_PACKAGES := fortunes dataset-fashion-mnist diatheke sword-text-web sword-text-sparv

# Root runs apt-get directly; anyone else goes through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

STAMPS := $(BUILD)/.stamps

# ccache, when installed, makes rebuilds (and builds of other checkouts of the
# same tree) cheap; paths are hashed relative to the checkout.
CCACHE := $(shell command -v ccache 2>/dev/null)
ifneq ($(CCACHE),)
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
LAUNCHER := -DCMAKE_CXX_COMPILER_LAUNCHER=$(CCACHE)
endif

.PHONY: all demo test test-cpp test-asan test-python setup setup-test setup-demo \
        build build-asan bench fuzz clean

all: build

# --- set-up ------------------------------------------------------------------

setup: $(STAMPS)/apt $(STAMPS)/pip-build
setup-test: setup $(STAMPS)/apt-demo $(STAMPS)/pip-test
setup-demo: setup $(STAMPS)/apt-demo $(STAMPS)/pip-demo

# $(call apt_install,PACKAGES): install the Debian packages that are missing.
define apt_install
	@mkdir -p $(STAMPS)
	@set -e; \
	missing="$(2)"; \
	for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@touch $@
endef

# Tools that may come from elsewhere (pip's cmake and ninja, a pyenv Python)
# count as present when they work.
TOOLS_MISSING = $(shell command -v cmake >/dev/null 2>&1 || echo cmake) \
  $(shell command -v ninja >/dev/null 2>&1 || echo ninja-build) \
  $(shell $(PYTHON) -m pip --version >/dev/null 2>&1 || echo python3-pip) \
  $(shell $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || echo python3-venv) \
  $(shell $(PYTHON) -c 'import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' >/dev/null 2>&1 || echo python3-dev)

$(STAMPS)/apt:
	$(call apt_install,$(APT_PACKAGES),$(strip $(TOOLS_MISSING)))
$(STAMPS)/apt-demo: | $(STAMPS)/apt
	$(call apt_install,$(DEMO_APT_PACKAGES))

# pip refuses to touch a Debian-managed Python (PEP 668) unless told; a pyenv
# or venv Python has no marker and needs no flag.
PIP_FLAGS := $(shell $(PYTHON) -c 'import os, sysconfig; print("--break-system-packages" if os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")) and not os.environ.get("VIRTUAL_ENV") else "")' 2>/dev/null)

# pip install -r is a quick, offline no-op for requirements already satisfied,
# so it both checks and fills in; the stamp skips even that on later runs.
define pip_install
	@mkdir -p $(STAMPS)
	$(PYTHON) -m pip install -q --disable-pip-version-check $(PIP_FLAGS) -r $(1)
	@touch $@
endef

$(STAMPS)/pip-build: requirements-build.txt | $(STAMPS)/apt
	$(call pip_install,requirements-build.txt)
$(STAMPS)/pip-test: requirements-test.txt requirements-build.txt | $(STAMPS)/apt
	$(call pip_install,requirements-test.txt)
$(STAMPS)/pip-demo: requirements-demo.txt requirements-build.txt | $(STAMPS)/apt
	$(call pip_install,requirements-demo.txt)

# --- builds ------------------------------------------------------------------

# pybind11's CMake package ships inside its pip wheel; hand its location and
# this Python to CMake so the extension matches the interpreter that runs it.
CMAKE_PY_ARGS = -DPython_EXECUTABLE="$$(command -v $(PYTHON))" \
                -Dpybind11_DIR="$$($(PYTHON) -m pybind11 --cmakedir)"

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(LAUNCHER) \
	  -DSHANSHUI_BUILD_PYTHON=ON -DSHANSHUI_BUILD_TESTS=ON -DSHANSHUI_BUILD_EXAMPLES=ON $(CMAKE_PY_ARGS)
	cmake --build $(BUILD) -j $(JOBS)

# AddressSanitizer + UndefinedBehaviorSanitizer over the C++ tests, at -O1 so
# the suite stays quick while stack traces stay readable.
build-asan: setup
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" $(LAUNCHER) \
	  -DSHANSHUI_SANITIZE=ON -DSHANSHUI_BUILD_PYTHON=OFF -DSHANSHUI_BUILD_TESTS=ON -DSHANSHUI_BUILD_EXAMPLES=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# --- the two commands --------------------------------------------------------

# The main demo: toy translation, Transformer vs GRU vs GRU + attention (examples/translate.py).
demo: setup-demo build
	PYTHONPATH=python $(PYTHON) examples/translate.py

test: setup-test
	$(MAKE) --no-print-directory test-cpp
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-python
	@echo "make test: all C++ (Release, ASan+UBSan) and Python tests passed"

test-cpp: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# LeakSanitizer needs to stop the process's threads with ptrace; under a
# sandbox that forbids it, LSan aborts every run, so a one-line probe decides:
# leaks are checked wherever LSan works (it does on this project's machines)
# and reported as skipped where it cannot run.
test-asan: build-asan
	@set -e; \
	printf 'int main(){return 0;}\n' > $(ASAN_BUILD)/lsan_probe.cpp; \
	g++ -fsanitize=address $(ASAN_BUILD)/lsan_probe.cpp -o $(ASAN_BUILD)/lsan_probe; \
	if ASAN_OPTIONS=detect_leaks=1 $(ASAN_BUILD)/lsan_probe >/dev/null 2>&1; then leaks=1; \
	else leaks=0; echo "test-asan: LeakSanitizer cannot run here (ptrace denied); leak checks off"; fi; \
	cd $(ASAN_BUILD) && \
	ASAN_OPTIONS=detect_leaks=$$leaks:abort_on_error=0:strict_init_order=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure -j $(JOBS)

# pytest exits 5 when it collects nothing; that is not a failure of the code
# (it happens only before the first Python test exists), so say it and go on.
test-python: build
	@set +e; PYTHONPATH=python $(PYTHON) -m pytest -q tests/python; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "test-python: no Python tests collected"; exit 0; fi; exit $$rc

# The benchmark harness (bench/run.py): W1-W5 (and W1g, W2g, W5u) in our C++ and Python APIs and in
# PyTorch, interleaved in one run; prints the table and writes bench/results.json.
bench: setup-test build
	PYTHONPATH=python $(PYTHON) bench/run.py $(BENCH_ARGS)

# --- fuzzing ------------------------------------------------------------------
# libFuzzer on the safetensors reader for FUZZ_SECONDS, from a generated seed
# corpus, with ASan+UBSan. Needs clang and its runtime (Debian: clang,
# libclang-rt-14-dev), installed here only; the OpenMP runtime is GCC's libgomp.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_APT     := clang libclang-rt-14-dev

$(STAMPS)/apt-fuzz: | $(STAMPS)/apt
	$(call apt_install,$(FUZZ_APT))

fuzz: setup $(STAMPS)/apt-fuzz
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
	  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" -DSHANSHUI_SANITIZE=ON \
	  -DSHANSHUI_NATIVE=OFF -DSHANSHUI_BUILD_FUZZ=ON -DSHANSHUI_BUILD_TESTS=OFF -DSHANSHUI_BUILD_EXAMPLES=OFF \
	  -DSHANSHUI_BUILD_PYTHON=OFF -DOpenMP_CXX_FLAGS=-fopenmp=libgomp -DOpenMP_CXX_LIB_NAMES=gomp \
	  -DOpenMP_gomp_LIBRARY="$$(g++ -print-file-name=libgomp.so)"
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_safetensors
	rm -rf $(FUZZ_BUILD)/corpus && $(PYTHON) tests/fuzz/make_corpus.py $(FUZZ_BUILD)/corpus
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1 OMP_NUM_THREADS=1 \
	  $(FUZZ_BUILD)/fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -rss_limit_mb=2048 \
	  -print_final_stats=1 $(FUZZ_BUILD)/corpus

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) _skbuild dist
	find python -name '_C*.so' -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
