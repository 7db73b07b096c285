# Two commands on a fresh machine:  `make app`  (the app on the embedded data)  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
# tests, CI and benchmarks use the full MNIST beside the checkout when it is there
export EXPLORER_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: app test test-fast test-school bench lint chromium school-deps screenshots

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-*; touch $@

app: $(STAMP)
	$(BIN)/streamlit run server.py

test: $(STAMP) chromium school-deps lint
	$(BIN)/python -m pytest

# the school set-up, tested for real (tests/test_school.py): PostgreSQL, two Ray nodes, two replicas, HAProxy
test-school: $(STAMP) chromium school-deps
	$(BIN)/python -m pytest -m school

# the fast lane: everything but the browser, Ray, package and slow tests; the app trains in its own threads
test-fast: $(STAMP)
	EXPLORER_RUNNER=local $(BIN)/python -m pytest -m "not browser and not ray and not package and not slow"

# the README's pictures, from the real app in Chromium (a test fails when its page changed since: docs/images/taken.json)
screenshots: $(STAMP) chromium
	$(BIN)/python -m devtools.screenshots

bench: $(STAMP)
	$(BIN)/python -m explorer bench --data-dir $(EXPLORER_DATA_DIR)

lint: $(STAMP)
	$(BIN)/ruff check explorer pages tests devtools app.py server.py
	$(BIN)/ruff format --check explorer pages tests devtools app.py server.py

# Debian's chromium drives the browser tests (Playwright cannot download its own browser here)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: browser tests will be skipped (apt-get install chromium)"; fi; }

# Debian's PostgreSQL and HAProxy for the school set-up's test (started by the test itself, on loopback)
school-deps:
	@{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v haproxy >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql haproxy >/dev/null; \
	  else echo "postgresql or haproxy is missing: the school set-up test will be skipped (apt-get install postgresql haproxy)"; fi; }
