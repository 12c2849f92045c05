# ordercast: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
CONSTRAINTS := constraints.txt
DATA   ?= data/orders.csv.gz
HOST   ?= 127.0.0.1
PORT   ?= 8000
# The address the demo's API keys name in their example request: the one it serves on.
DEMO_ADDRESS = ORDERCAST_API__HOST=$(HOST) ORDERCAST_API__PORT=$(PORT)

.PHONY: demo test test-fast install notebooks bench lint lock clean-models

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# One stamp per extra set, so `make test` after `make demo` installs only what is missing.
$(VENV)/.installed-%: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[$*]"
	@touch $@

install: $(VENV)/.installed-base

$(VENV)/.installed-base: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install --quiet -c $(CONSTRAINTS) -e .
	@touch $@

## demo: install, generate the synthetic history, check it, build its series, load it into
## the order store (the pages read the book from there), train the three models and serve
demo: $(VENV)/.installed-base
	@echo "demo 1/6: the synthetic order history $(DATA)"
	@test -f $(DATA) || $(BIN)/ordercast generate --out $(DATA)
	@echo "demo 2/6: validating $(DATA)"
	$(BIN)/ordercast validate $(DATA)
	@echo "demo 3/6: building its series under out/"
	$(BIN)/ordercast series $(DATA) --by sku,site --freq D --out out/series-sku-site-daily.parquet
	$(BIN)/ordercast series $(DATA) --by site --freq W --out out/series-site-weekly.csv
	@echo "demo 4/6: loading it into the order store (data/ordercast.db; again: nothing changes)"
	$(BIN)/ordercast ingest $(DATA)
	@echo "demo 5/6: training the demand, capacity and at-risk models (a few minutes)"
	@$(BIN)/ordercast train all --data $(DATA); code=$$?; \
	  if [ $$code -ne 0 ] && [ $$code -ne 3 ]; then exit $$code; fi
	@echo "API keys for the demo (shown once; \`ordercast keys create NAME --role read\` makes more):"
	@$(DEMO_ADDRESS) $(BIN)/ordercast keys create demo-reader --role read --replace
	@$(DEMO_ADDRESS) $(BIN)/ordercast keys create demo-admin --role admin --replace
	@echo "demo 6/6: serving the API and the planner's pages (http://$(HOST):$(PORT)/web/)"
	$(BIN)/ordercast serve --host $(HOST) --port $(PORT)

## test: install with the test extra and run the whole suite (what CI runs) on TEST_WORKERS
## pytest-xdist workers, a whole module per worker at a time (module fixtures built once)
TEST_WORKERS ?= 2
test: $(VENV)/.installed-test
	@# The pages' browser tests drive Debian's Chromium (Playwright cannot download its own
	@# here); as root, install it when missing. Otherwise tests/web fail saying how.
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; fi
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=30

## test-fast: unit tests only (no MLflow server, no uvicorn, no notebooks, no training runs)
test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "not slow" -q

## notebooks: JupyterLab on notebooks/ with the project's environment
notebooks: $(VENV)/.installed-test $(VENV)/.installed-notebooks
	$(BIN)/jupyter lab notebooks/

## bench: install the peers (StatsForecast, MLForecast, DuckDB) for benchmarks/
bench: $(VENV)/.installed-test $(VENV)/.installed-bench
	@echo "benchmarks: $(BIN)/python benchmarks/<name>.py --help"

## lint: ruff (rules and formatting) and mypy over forecasting, training, api, ordercast and store
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## lock: refresh constraints.txt from the current environment (after changing pyproject.toml)
lock: $(VENV)/.installed-test $(VENV)/.installed-bench $(VENV)/.installed-notebooks
	$(PIP) freeze --exclude-editable | grep -v '^ordercast' > $(CONSTRAINTS)
