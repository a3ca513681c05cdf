# The two first commands of README.md:
#   make repro   set up .venv and run the pipeline (`dvc repro`) on the embedded demo
#   make test    set up .venv and run the test suite
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# stages run `python -m stages.x`: the venv's python must come first on PATH
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup repro test
setup:
	@bash scripts/setup.sh

repro: setup
	$(VENV)/bin/dvc repro
	@$(VENV)/bin/dvc metrics show

# pytest exits 5 when it collected no test: that is a broken suite, not a pass.
test: setup
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "test: pytest collected no tests" >&2; exit 1; fi; exit $$rc
