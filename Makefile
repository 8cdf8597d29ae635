# lvr1kit: the verbs a developer and CI type. `make test` and `make demo` work from a fresh clone.
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.installed
# Debian packages the tests need, installed when missing: chromium for the browser tests (PyAV and decord bundle
# their own FFmpeg, so no ffmpeg).
SYSTEM_PACKAGES ?= chromium

.PHONY: setup system-deps demo test lint fmt nbtest lab app clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml scripts/setup.sh
	scripts/setup.sh
	touch $@

system-deps:
	@scripts/system-deps.sh $(SYSTEM_PACKAGES)

demo: setup
	$(PY) -m lvr1kit.cli pipeline run pipelines/demo.yaml
	@echo "Demo outputs: runs/demo/ (summary.json, one folder per stage, executed notebooks in runs/demo/notebooks/)."
	@echo "Browse them in JupyterLab: make lab"

test: setup
	$(PY) -m pytest -q

nbtest: setup
	$(PY) -m pytest -q tests/notebooks

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/nbstripout --verify $$(git ls-files '*.ipynb')
	.venv/bin/mypy lvr1kit

fmt: setup
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .
	.venv/bin/nbstripout $$(git ls-files '*.ipynb')

lab: setup
	.venv/bin/pip install -q -e ".[dev,lab]"
	.venv/bin/jupyter lab --ip 127.0.0.1 --no-browser

app: setup
	$(PY) -m lvr1kit.cli app --data runs/demo --runs runs/demo --port 7860

clean:
	rm -rf .venv runs .pytest_cache .ruff_cache
