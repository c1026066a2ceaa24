# The two set-up commands are `make run` and `make test`; both create and update .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-sqlite test-postgres venv bench-orders bench-vrp bench-voice clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/otodoke run

test: $(STAMP)
	bash scripts/test.sh

test-sqlite: $(STAMP)
	$(PY) -m pytest -q

bench-orders: $(STAMP)
	$(PY) -m orders.bench

bench-vrp: $(STAMP)
	$(PY) -m delivery.bench ../shared/bench/solomon/*.txt --time-limit 30

bench-voice: $(STAMP)
	$(PY) -m voice.bench

clean:
	rm -rf $(VENV) instance .pytest_cache
