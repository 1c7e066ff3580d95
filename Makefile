# traindev: the two quickstart commands are `make repro` and `make test`.
# Everything runs from a project-local virtualenv so nothing installed by hand is needed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is installed first, on its own and pinned, so no resolver ever swaps the 2.13.0
# CPU wheel for a newer (multi-GB CUDA) build; requirements.lock then pins everything else.
TORCH  := torch==2.13.0

export PATH := $(abspath $(BIN)):$(PATH)
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export NO_ALBUMENTATIONS_UPDATE := 1
export NO_MKDOCS_2_WARNING := 1  # mkdocs-material's end-of-life banner on every build

.PHONY: install repro restore test lint flow flow-stop ui bench docs clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

repro: install          ## run the whole pipeline on the embedded default (params checked first)
	traindev check
	dvc repro

restore: install        ## after a failed stage: put back the last good outputs (dvc.lock's)
	traindev restore

test: install lint      ## lint (ruff), the docs build (strict: no broken link), then the tests
	mkdocs build --strict
	pytest

lint: install           ## what CI enforces before the tests: ruff's lint rules and formatting
	ruff check .
	ruff format --check .

flow: install           ## the same pipeline as a Prefect flow, on the project's Prefect server
	python -m pipeline.flows

flow-stop: install      ## stop the project's Prefect server (the first `make flow` started it)
	python -m pipeline.local_server stop

ui: install             ## MLflow UI on the runs of this project: lean, opening on the runs
	traindev ui --host 127.0.0.1 --port 5000

bench: install          ## benchmarks: records in benchmarks/results/, then the docs page
	python benchmarks/trainer_throughput.py
	python benchmarks/pipeline_wall_time.py
	python benchmarks/analyze_scale.py
	python benchmarks/detection_evaluation.py
	python benchmarks/split_scale.py
	python benchmarks/ingest_throughput.py
	python benchmarks/architectures.py
	python benchmarks/orchestration_overhead.py --tiny
	python benchmarks/everyday_loop.py
	python benchmarks/render_docs.py

docs: install           ## regenerate the generated pages, then build the site into site/
	python -m traindev.params_reference
	python benchmarks/render_docs.py
	mkdocs build --strict

clean:                  ## remove the virtualenv (the project's Prefect server is stopped first)
	-$(BIN)/python -m pipeline.local_server stop
	rm -rf $(VENV)
