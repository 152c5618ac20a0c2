# The two commands of the README's quick start: `make demo` and `make test`. Both set up .venv on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The CPU build of torch is installed first and pinned: a bare torch requirement would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: install test lint typecheck unit demo clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

# The results page's browser test drives the system's Chromium (Playwright downloads none). As root on Debian or Ubuntu
# it is installed here; elsewhere make stops with the one command that installs it.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium (apt-get) for the browser test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
		|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	else \
		echo "make test needs Chromium at $(CHROMIUM) for the results-page test: sudo apt-get install -y chromium" >&2; \
		exit 1; \
	fi

unit: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest

test: lint typecheck unit

# The service with a small real comparison on FSDD (3 replicate studies per space, 6 trials of 5 epochs; a few
# minutes on 2 cores): prints the URL of its results page and keeps serving until Ctrl-C.
demo: $(STAMP)
	$(PY) -m bnn_tune.demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
