# The two Quickstart commands: `make serve` and `make test`.
# Both create .venv, install what is needed (idempotent; pip's cache makes re-runs fast).
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

# Debian packages. The app needs espeak-ng (the fallback narrator) and the PDF export's fonts (Latin, Greek, Cyrillic: Noto Sans;
# Chinese, Japanese, Korean: Droid Sans Fallback); the tests also need Chromium and iproute2 (`ip netns`, the multi-host test). The Makefile
# is the one place that installs them: with apt-get when running as root, otherwise it stops
# and names them.
APP_SYSTEM_PACKAGES  := fonts-noto-core fonts-droid-fallback espeak-ng
TEST_SYSTEM_PACKAGES := chromium iproute2

define ensure_packages
	@missing=""; \
	for pkg in $(1); do \
	  dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "these Debian packages are needed:$$missing" >&2; \
	    echo "install them (sudo apt-get install -y$$missing), then run make again" >&2; \
	    exit 1; \
	  fi; \
	fi
endef

.PHONY: serve test install system test-system lint bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The default install (`pip install .`) needs no torch: speaker labels run on onnxruntime.
# The test install adds resemblyzer + torch as the reference the encoder is checked
# against; torch goes in first as the CPU build, so that nothing pulls the multi-GB GPU
# build in as a dependency.
$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

system:
	$(call ensure_packages,$(APP_SYSTEM_PACKAGES))

test-system:
	$(call ensure_packages,$(APP_SYSTEM_PACKAGES) $(TEST_SYSTEM_PACKAGES))

install: system $(STAMP)

serve: install
	$(VENV)/bin/tapeworks serve

test: test-system install
	$(VENV)/bin/python -m pytest

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: install
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) tapeworks-data test-artifacts
