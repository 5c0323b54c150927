# Fresh-machine entry points. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup demo test bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/sonoharvest run --demo

# Browser tests drive Debian's Chromium (never a downloaded browser); without it they skip.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "warning: could not install Debian's chromium; the browser tests will be skipped"

test: $(STAMP) browser
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	for b in benchmarks/harvest_requests.py benchmarks/classify_throughput.py \
	         benchmarks/model2vec_accuracy.py benchmarks/score_scaling.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) warehouse/*.duckdb warehouse/exports
