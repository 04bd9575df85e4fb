# The README's two commands: `make demo` (install everything, run the sentiment suite)
# and `make test`. Everything lives in .venv so the system Python stays untouched.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= local,server,dev

.PHONY: demo install test lint browser

demo: install
	$(BIN)/promptkit eval evals/sentiment.yaml

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e ".[$(EXTRAS)]"
	touch $@

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check promptkit tests bench
	$(BIN)/ruff format --check promptkit tests bench
	$(BIN)/mypy

# Debian's Chromium and chromedriver for tests/test_report_browser.py (needs root: apt).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	fi
