#!/usr/bin/env bash
# Download the wheels bench/gpu_bench.py needs on a GPU machine with Python 3.12 and no package index
# into .gpu-wheels/ (git-ignored; about 60 MB: carry it with the command). Idempotent.
#
#   bash bench/gpu/prepare.sh [PYTHON_VERSION [FOLDER]]   # default: 3.12 .gpu-wheels
#   then, on the GPU machine: python3 bench/gpu_bench.py
# (tests/test_gpu_bench.py also fetches the same pins for this machine's Python to dry-run the bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
[[ -x $PY ]] || PY=python3
VERSION=${1:-3.12}
DEST=${2:-.gpu-wheels}
mkdir -p "$DEST"
{ "$PY" -m pip download --disable-pip-version-check --no-deps --only-binary=:all: --python-version "$VERSION" \
    --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_28_x86_64 -d "$DEST" -r bench/gpu/wheels.txt 2>&1; } \
  | { grep -v -e 'is ignored: it is neither a file nor a directory' -e '^File was already downloaded' \
      -e '^Saved ' -e '^Collecting ' -e '^  Using cached' -e '^  Downloading ' || true; }
echo "prepare: $(ls "$DEST"/*.whl | wc -l) wheels for Python $VERSION, $(du -sm "$DEST" | cut -f1) MB in $DEST"
