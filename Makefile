# The two Quickstart commands: `make serve` and `make test`.
# Both create .venv, install what is needed (idempotent; pip's cache makes re-runs fast).
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

# Debian packages the app and the suite need: the PDF export's fonts (Latin, Greek,
# Cyrillic: Noto Sans; Chinese, Japanese, Korean: Droid Sans Fallback). Installed when missing.
SYSTEM_PACKAGES := fonts-noto-core fonts-droid-fallback

.PHONY: serve test install system lint bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch (for speaker diarization) goes in first as the CPU build, so that nothing
# pulls the multi-GB GPU build in as a dependency.
$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[diarization,dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

install: system $(STAMP)

serve: install
	$(VENV)/bin/tapeworks serve

test: install
	$(VENV)/bin/python -m pytest

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: install
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) tapeworks-data test-artifacts
