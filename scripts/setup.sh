#!/usr/bin/env bash
# Create .venv with pip and install the project with its pinned dependencies (pyproject.toml is the only source).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "lvr1kit needs Python 3.11 (decord 0.6.0 and the pinned torch wheel); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,serving,app]"
.venv/bin/python -c 'import torch, transformers, decord, av; print("installed torch", torch.__version__, "transformers", transformers.__version__)'
