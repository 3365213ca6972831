# Contacts CRM. `make run` and `make test` are all a fresh machine needs.
VENV    ?= .venv
PYTHON  ?= python3
PORT    ?= 5000
FLASK   := $(VENV)/bin/flask --app app
PG_DIR  ?= /tmp/crm-test-pg
PG_PORT ?= 55432

.PHONY: install run test test-sqlite test-postgres lint clean bench tour

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(FLASK) db upgrade
	$(FLASK) crm bootstrap
	@echo ""
	@echo "  Contacts CRM: http://127.0.0.1:$(PORT)/  (sign in as admin@example.com)"
	@echo ""
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

# The whole suite on SQLite (a real file per test), two shares side by side.
test: install
	bash scripts/system-deps.sh
	bash scripts/test-sqlite.sh --durations=15

# The whole suite again on a throwaway PostgreSQL cluster (two shares side by side).
test-postgres: install
	bash scripts/system-deps.sh --postgresql
	bash scripts/test-postgres.sh $(PG_DIR) $(PG_PORT) --durations=15

# Seed throwaway databases with BENCH_CONTACTS contacts (default 1,000,000) and time the app
# on them: SQLite, then PostgreSQL when installed (BENCH_POSTGRES=0 skips it). The tables
# go to bench-results/. See README.md, "Benchmark".
bench: install
	$(VENV)/bin/pip install -q -e '.[dev,bench]'
	$(VENV)/bin/python -m bench

# The README's tour pictures (docs/tour/), taken by the browser on the demo data.
tour: install
	bash scripts/system-deps.sh
	CRM_TOUR_DIR=docs/tour $(VENV)/bin/pytest -q tests/browser/test_tour.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check crm tests app.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
