# The two set-up commands are `make run` and `make test`; both create and update .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres venv bench-orders bench-vrp bench-voice bench-line bench-taps bench-day clean run-prod-local bench-load

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/otodoke run

test: $(STAMP)
	bash scripts/browser.sh
	bash scripts/test.sh

test-sqlite: $(STAMP)
	$(PY) -m pytest -q

bench-orders: $(STAMP)
	$(PY) -m benchmarks.ordering

# Solomon always; Li & Lim too when LILIM_DIR names a folder of its files (e.g. LILIM_DIR=/work/data/lilim);
# BENCH_TIME sets the seconds per instance (default 30). Then the pilot-town day (600 orders) and a city
# of 5,000 (districts first, then each town as one problem; benchmarks/town.py).
BENCH_TIME ?= 30
bench-vrp: $(STAMP)
	$(PY) -m benchmarks.vrp ../shared/bench/solomon/*.txt $(if $(LILIM_DIR),$(wildcard $(LILIM_DIR)/l*.txt)) --time-limit $(BENCH_TIME)
	$(PY) -m benchmarks.vrp --town 600 --time-limit 25
	$(PY) -m benchmarks.vrp --town 5000 --time-limit 100 --variants towns

bench-voice: $(STAMP)
	$(PY) -m benchmarks.phone

bench-line: $(STAMP)
	$(PY) -m benchmarks.line

# Taps a resident needs on LINE (いつもの, two items from one shop, from two shops), walked through /sandbox/line.
bench-taps: $(STAMP)
	$(PY) -m benchmarks.taps

clean:
	rm -rf $(VENV) instance .pytest_cache

# The pilot's own day as the product plans it (benchmarks/day.py): 120, 240 and 480 orders, seeds 1-3.
bench-day: $(STAMP)
	$(PY) -m benchmarks.day

# The production topology locally (PostgreSQL 127.0.0.1:5432, Redis 6379): docs/deploy.md.
# ARGS e.g. ARGS="--web 3 --threads 4 --workers 2 --sandboxes".
run-prod-local: $(STAMP)
	bash scripts/run_prod_local.sh $(ARGS)

# The load mix (LINE, phone, shop stock, staff pages) against run-prod-local's topology for 2 minutes, then the
# reconciliation and the table (scripts/bench_load.sh; LOAD_TIME, LOAD_USERS, LOAD_SPAWN, LOAD_TOPOLOGY).
bench-load: $(STAMP)
	bash scripts/bench_load.sh
