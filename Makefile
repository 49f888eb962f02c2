# The two commands: `make demo` and `make test`. Both set up everything they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo demo-spark test services lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# The Spark engine's extra (pyspark + delta-spark), for the tests and `make demo-spark`.
$(BIN)/.installed-spark: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[test,spark]'
	touch $@

# Airflow 3 for the tests of assay.integrations.airflow (`make test` installs it).
$(BIN)/.installed-airflow: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[test,airflow]'
	touch $@

# Presidio's recognizers for `assay pii scan` (the pii extra; `make test` installs it).
$(BIN)/.installed-pii: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[test,pii]'
	touch $@

# MLflow for `@assay.model` and training-set tracking (`make test` installs it).
$(BIN)/.installed-mlflow: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[test,mlflow]'
	touch $@

# dbt-core and dbt-duckdb for dbt projects inside `assay run` (`make test` installs it).
$(BIN)/.installed-dbt: $(BIN)/.installed
	$(BIN)/pip install -q -e '.[test,dbt]'
	touch $@

## Run the fraud-detection example end to end on the embedded engine.
demo: $(BIN)/.installed-mlflow
	$(BIN)/python examples/fraud/demo.py

## The same demo with its pipelines and training set on Spark (local[*]; Delta Lake jars
## resolved from Maven Central by scripts/jars/resolve).
demo-spark: $(BIN)/.installed-spark
	ASSAY_SPARK_JARS=$$(scripts/jars/resolve spark) $(BIN)/python examples/fraud/demo.py --engine spark

## Services the tests use (PostgreSQL, Redis, Kafka; Chromium for the UI's browser tests),
## installed and started idempotently.
services:
	scripts/services/chromium install
	scripts/services/postgres start
	scripts/services/redis start
	scripts/services/kafka start

## Lint, type-check and run the whole suite against real services.
test: $(BIN)/.installed $(BIN)/.installed-spark $(BIN)/.installed-airflow $(BIN)/.installed-pii \
		$(BIN)/.installed-mlflow $(BIN)/.installed-dbt services lint
	ASSAY_PG_URL=$$(scripts/services/postgres url) ASSAY_REDIS_URL=$$(scripts/services/redis url) \
		ASSAY_KAFKA_BOOTSTRAP=$$(scripts/services/kafka bootstrap) \
		ASSAY_CHROMIUM=$$(scripts/services/chromium path) \
		ASSAY_SPARK_JARS=$$(scripts/jars/resolve spark) $(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy

## Benchmarks: the fraud pipeline against plain pandas (writes benchmarks/RESULTS.md).
bench: $(BIN)/.installed
	$(BIN)/python benchmarks/pipeline_vs_pandas.py

## Benchmarks: assay's feature store against Feast (installed by the script in its own venv,
## benchmarks/work/feast-venv); writes its block of benchmarks/RESULTS.md. ARGS=--large for 10M.
.PHONY: bench-features
bench-features: $(BIN)/.installed
	$(BIN)/python benchmarks/features_vs_feast.py $(ARGS)

clean:
	rm -rf $(VENV) .services examples/fraud/data examples/fraud/warehouse examples/fraud/.assay examples/fraud/incoming

## Benchmarks: assay's Kafka stream against Spark Structured Streaming on the local broker (the
## script starts it; pyspark + delta-spark go into benchmarks/work/spark-venv, the jars come
## through scripts/jars/resolve spark); writes its block of benchmarks/RESULTS.md. ARGS=--events N.
.PHONY: bench-streaming
bench-streaming: $(BIN)/.installed
	$(BIN)/python benchmarks/streaming_vs_spark.py $(ARGS)

## Benchmarks: the fraud pipeline on assay's Spark engine against assay on DuckDB and a
## hand-written PySpark job (pyspark + delta-spark from the `spark` extra, the Delta jars through
## scripts/jars/resolve spark); writes its block of benchmarks/RESULTS.md. ARGS="--sizes 200000".
.PHONY: bench-spark
bench-spark: $(BIN)/.installed-spark
	ASSAY_SPARK_JARS=$$(scripts/jars/resolve spark) $(BIN)/python benchmarks/spark_vs_duckdb.py $(ARGS)
