# The two first commands of README.md:
#   make repro   set up .venv and run the pipeline (`dvc repro`) on the embedded demo
#   make test    set up .venv and run the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# stages run `python -m stages.x`: the venv's python must come first on PATH
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup repro test test-fast lint smoke-paper leaderboard paper predict
setup:
	@bash scripts/setup.sh

repro: setup
	$(VENV)/bin/dvc repro
	@cat metrics/ablation.md   # the leaderboard, as tables; all metrics: dvc metrics show

# pytest exits 5 when it collected no test: that is a broken suite, not a pass.
test: setup
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The quick loop while working: unit and fast integration tests (not the end-to-end `slow` ones; 300
# tests in 4 min 52 s on 2 cores, 30 s of it drawing the plots page); `make test` is what CI runs.
test-fast: setup
	@$(PY) -m pytest -m 'not slow and not paper'

# ruff's lint and format (pyproject.toml); `make lint FIX=1` applies the fixes and the formatting
lint: setup
	$(VENV)/bin/ruff check $(if $(FIX),--fix) .
	$(VENV)/bin/ruff format $(if $(FIX),,--check) .

# The paper configuration end to end at paper sizes on a generated TinyVIRAT-v2-format root (tests/test_paper_smoke.py)
smoke-paper: setup
	@$(PY) -m pytest -m paper -s -p no:cacheprovider tests/test_paper_smoke.py

# CI: regenerate the leaderboard from the DVC remote (see scripts/leaderboard.sh); not part of .ci/run
leaderboard: setup
	@$(VENV)/bin/tinyactions leaderboard

# The paper's full configuration on real data, real weights and GPUs (profiles/paper.yaml):
#   make paper TINYVIRAT=/datasets/TinyVIRAT_V2 WEIGHTS=/weights [GPUS=8]
paper: setup
	$(if $(and $(TINYVIRAT),$(WEIGHTS)),,$(error usage: make paper TINYVIRAT=<TinyVIRAT-v2 root> WEIGHTS=<checkpoint folder> [GPUS=n]))
	$(VENV)/bin/tinyactions profile paper --data-root "$(TINYVIRAT)" --weights "$(WEIGHTS)" --gpus $(or $(GPUS),1)
	$(VENV)/bin/dvc repro
	@cat metrics/ablation.md

# The trained ensemble (submission/bundle.json) on new videos (tinyactions/app/predict.py):
#   make predict INPUT="<videos, folders, TinyVIRAT annotation json>" [OUT=predictions.csv] [LR_ONLY=1]
predict:
	$(if $(INPUT),,$(error usage: make predict INPUT="<videos, folders, annotation json>" [OUT=predictions.csv] [LR_ONLY=1]))
	@bash scripts/setup.sh
	$(VENV)/bin/tinyactions predict $(INPUT) --out $(or $(OUT),predictions.csv) $(if $(LR_ONLY),--lr-only)
