# `make run` and `make test` work on a fresh clone: they create .venv and install first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(abspath $(VENV))/bin
# Stage commands call `python`: make it the venv's.
export PATH := $(BIN):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1

.PHONY: install system-packages run test test-fast lint ui report bench-quality bench-speed \
	bench-real bench-real-scores bench-score article team-up team-down team-status clean
BENCH_INSTALLED := $(VENV)/.bench-installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install  ## reproduce the pipeline on params.yaml and print the results table
	$(BIN)/dvc repro
	$(BIN)/ae-anomaly results metrics/validation.json

system-packages:  ## Chromium, PostgreSQL and a Java runtime (Debian packages) for the suite; installed if missing
	@tooling/system_packages.sh

test: install system-packages  ## the whole suite: unit tests, the real pipeline, servers, browser
	$(BIN)/pytest

test-fast: install  ## unit tests only
	$(BIN)/pytest -m "not integration and not browser"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

report: install  ## HTML plots (dvc plots show) and a Markdown summary of the current results
	$(BIN)/dvc plots show --out dvc_plots
	$(BIN)/ae-anomaly results metrics/validation.json --markdown reports/summary.md \
		--train-summary metrics/train_ae.json --localisation metrics/localisation.json \
		--figures plots/figures

article: install  ## the article's exact settings as a DVC experiment named "article"
	$(BIN)/dvc exp run --force -n article $$($(BIN)/ae-anomaly preset presets/article.yaml)
	$(BIN)/dvc exp show --only-changed --drop '^(data|models|plots)/'

$(BENCH_INSTALLED): pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@

bench-quality: $(BENCH_INSTALLED)  ## seeds 1..5: article preset vs our defaults vs PyOD (~25 min)
	$(BIN)/python -m bench.quality --out bench/results

bench-real: $(BENCH_INSTALLED)  ## the UCR sets aeon ships, one-vs-rest: every model vs ROCKAD and PyOD, 3 seeds (~25 min)
	$(BIN)/python -m bench.real --out bench/results

bench-real-scores: $(BENCH_INSTALLED)  ## label-free scores of every network kind vs ROCKAD on design splits only, 3 seeds (~15 min)
	$(BIN)/python -m bench.real_scores --out bench/results

bench-score: install  ## scoring throughput: CLI vs bare network, HTTP latency, Spark local[2], memory (~6 min)
	@tooling/system_packages.sh java
	$(BIN)/dvc repro
	$(BIN)/python -m bench.score --out bench/results

bench-speed: install  ## reruns, 10x data, trainer vs reference, sweeps -j 1 vs -j 2, vs the article script (~30 min)
	$(BIN)/python -m bench.speed --out bench/results

PORT ?= 5000
ui: install  ## MLflow UI on this repository's store (or MLFLOW_TRACKING_URI), loopback only
	@echo "MLflow UI at http://127.0.0.1:$(PORT)  (Ctrl-C to stop)"
	$(BIN)/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db}" \
		--default-artifact-root "$(CURDIR)/mlartifacts" --host 127.0.0.1 --port $(PORT)

# The local team stack: PostgreSQL + `mlflow server` with proxied artifacts, all in TEAM_DIR.
TEAM_DIR ?= .team
TEAM_PG_PORT ?= 5433
TEAM_MLFLOW_PORT ?= 5500
TEAM_HOST ?= 127.0.0.1
TEAM_ARGS = --folder $(TEAM_DIR) --postgres-port $(TEAM_PG_PORT) --mlflow-port $(TEAM_MLFLOW_PORT) \
	--host $(TEAM_HOST)
TEAM_INSTALLED := $(VENV)/.team-installed

$(TEAM_INSTALLED): pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[team]'
	touch $@

team-up: $(TEAM_INSTALLED)  ## start PostgreSQL + mlflow server (127.0.0.1:$(TEAM_MLFLOW_PORT))
	@tooling/system_packages.sh postgresql
	$(BIN)/ae-anomaly team up $(TEAM_ARGS)

team-down: install  ## stop both; every run and artifact stays in $(TEAM_DIR)
	$(BIN)/ae-anomaly team down $(TEAM_ARGS)

team-status: install
	$(BIN)/ae-anomaly team status $(TEAM_ARGS)

clean:  ## remove pipeline outputs (not the MLflow store)
	rm -rf data models plots reports dvc_plots
