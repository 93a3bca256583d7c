# Set up a virtualenv, then run the demo or the tests. torch==2.13.0 comes first: it is the
# local CPU build; any other version would pull gigabytes of CUDA packages.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[all]'
	touch $(STAMP)

demo: setup
	HF_HUB_OFFLINE=1 $(PY) -m hybrid demo

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests

clean:
	rm -rf $(VENV) data
