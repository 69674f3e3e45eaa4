# vmscope: two commands on a fresh Debian 12 machine (as root, or with sudo):
#   make run    install everything, then measure this host and write the report
#   make test   install everything, then run the test suite
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEB_PACKAGES := qemu-system-x86 busybox-static crun runc bubblewrap runsc strace hyperfine \
	gcc libc6-dev cpio lz4 sqlite3 chromium
PYTEST_ARGS ?=

.PHONY: install deps venv run test test-unit bench lint clean

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

venv:
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'

install: deps venv

run: install
	$(VENV)/bin/vmscope run

test: install
	@# exit 5 = pytest selected no tests: not a failure of the suite
	$(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

test-unit: venv
	$(VENV)/bin/pytest tests/unit

bench: install
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
