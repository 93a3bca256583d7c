# Set up a virtualenv with exactly the versions in requirements.lock, then run the demo or the tests.
# uv installs the lock (about 15 s against 95 s for pip on a fresh machine). torch is the local CPU
# build (torch==2.13.0+cpu in $(WHEELS)); any other torch would pull gigabytes of CUDA packages.
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
WHEELS ?= /opt/wheels
FIND_LINKS := $(if $(wildcard $(WHEELS)),--find-links $(WHEELS))
STAMP := $(VENV)/.installed

.PHONY: setup demo test lock clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip sync -q --python $(PY) $(FIND_LINKS) requirements.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $(STAMP)

demo: setup
	HF_HUB_OFFLINE=1 $(PY) -m hybrid demo

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests

# Refresh the lock to the newest releases pyproject.toml allows; then run `make test` and commit both.
lock: setup
	printf 'torch==2.13.0\n' | $(UV) pip compile -q --upgrade --all-extras --python-version 3.11 $(FIND_LINKS) \
		--custom-compile-command 'make lock' -o requirements.lock pyproject.toml -

clean:
	rm -rf $(VENV) data
