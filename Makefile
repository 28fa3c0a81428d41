# The two commands of the README: `make demo` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OBSDB  := $(VENV)/bin/obsdb
# A second server for the database tests, when one answers there (the brief asks both to pass).
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: demo test install install-test lint typecheck bench bench-memory bench-report bench-scale browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# compileall: an editable install leaves obsdb's own modules uncompiled, and where
# PYTHONDONTWRITEBYTECODE is set every command compiled them again (0.1-0.2 s of start-up each);
# pip compiles a wheel's at install, so this is how a user's install starts too.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	$(PY) -m compileall -q src
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## make demo: a sample archive, the embedded PostgreSQL, and obsdb run on it end to end.
demo: install
	$(OBSDB) sample data/observer
	$(OBSDB) init
	$(OBSDB) migrate data/observer
	@echo "== a second run loads nothing: every file is already in the ledger, nothing to derive =="
	$(OBSDB) migrate data/observer
	$(OBSDB) derive --reconcile
	$(OBSDB) status
	$(OBSDB) portfolio status
	$(OBSDB) report -o report.html

## make test: lint, types, then the whole suite on the embedded PostgreSQL 18 (or DATABASE_URL),
## then the database tests again on $(PG_TEST_URL) when a server answers there.
test: install-test lint typecheck browser
	@$(PY) -m pytest; rc=$$?; [ $$rc -eq 5 ] && rc=0; [ $$rc -eq 0 ] || exit $$rc
	@if [ -z "$$DATABASE_URL" ] && $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "== database tests again on $(PG_TEST_URL) =="; \
		DATABASE_URL='$(PG_TEST_URL)' $(PY) -m pytest -m db; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc; \
	else echo "== no PostgreSQL answers at $(PG_TEST_URL): second run skipped =="; fi

## The report's browser tests use Debian's chromium: install it when we may (root) and it is missing.
browser:
	@if [ "$$(id -u)" = 0 ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		echo "== installing Debian's chromium for the report's browser tests =="; \
		log=$${TMPDIR:-/tmp}/obsdb-chromium-install.log; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >$$log 2>&1 \
			|| { tail -n 5 $$log; echo "chromium could not be installed: the browser tests will skip"; }; \
	fi

lint: install-test
	$(PY) -m ruff check src tests bench

typecheck: install-test
	$(PY) -m mypy

## make bench: the loader against a raw COPY of the same rows (not part of make test).
LINES ?= 2000000
bench: install
	$(PY) -m bench.loader --lines $(LINES) $(if $(WORKERS),--workers $(WORKERS))

## make bench-memory: peak RSS of obsdb migrate on a 1 GB file (must stay under 300 MB).
bench-memory: install
	$(PY) -m bench.memory

## make bench-report: size and build time of `obsdb report` for 40 symbols x 250 trading days.
bench-report: install
	$(PY) -m bench.report_size

## make bench-scale: a trading day of ticks at a time, `obsdb migrate` after each; load rate, derive, RSS stay flat.
DAYS ?= 20
LINES_PER_DAY ?= 2000000
bench-scale: install
	$(PY) -m bench.scale --days $(DAYS) --lines-per-day $(LINES_PER_DAY)

clean:
	rm -rf $(VENV) .obsdb .pytest_cache .mypy_cache .ruff_cache .artifacts report.html
