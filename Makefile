# dip-sim: the two commands (make run, make test) and the benchmark. Each bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
DB := data/warehouse.duckdb
YEAR ?= 2020

.PHONY: run test bench bench-spark lint pipelines clean browser postgres java docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

## make run: install, generate the demo city if missing, run every stage, serve the dashboard
run: pipelines
	$(BIN)/python -m pipelines.demo_users --db $(DB)
	@echo "仪表盘地址 Dashboard: http://127.0.0.1:8501"
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port 8501 --server.headless true

pipelines: $(STAMP)
	$(BIN)/python -m pipelines.run_all --demo $(DEMO) --db $(DB) --year $(YEAR)

## make test: install with the test extras (Playwright among them), the browser, PostgreSQL and Java, run the whole suite
## (one worker per core, each test file in one worker: its module fixtures are built once;
## the longest files first, tests/conftest.py)
test: $(STAMP) browser postgres java
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

## browser: Debian's chromium and fonts-noto-cjk for the browser tests, when missing (needs root)
browser:
	sh scripts/ensure_browser.sh

## postgres: Debian's postgresql server for the feedback store's tests, when missing (needs root)
postgres:
	sh scripts/ensure_postgres.sh

## java: Debian's headless Java runtime for the Spark engine's tests (PySpark's JVM), when missing (needs root)
java:
	sh scripts/ensure_java.sh

## make bench [SCALE=1M|10M|40M]: a city of that many discharges (4 years, Parquet); times each
## stage against the lean reference (benchmarks/lean_reference.sql), then the extracts, dashboard, API
SCALE ?= 10M
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_bench --scale $(SCALE)

## make bench-spark: a province of 10M discharges over 20 regions, then the demo city and its scenarios,
## simulated by DuckDB and by Spark on local[2] (time, peak memory, the same numbers table by table)
bench-spark: $(STAMP) java
	$(BIN)/python -m benchmarks.spark_bench

## make docs: the reference pages generated from the code's declarations (dip_sim/docs.py lists them)
docs: $(STAMP)
	$(BIN)/python -m dip_sim.docs

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(DB) $(DB).wal
