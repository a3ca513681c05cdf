#!/usr/bin/env bash
# Download the wheels bench/gpu_bench.py and bench/gpu_check.py need on a GPU machine with Python 3.12
# and no package index, and its image lacks, into .gpu-wheels/ (git-ignored; carry it with the command).
# Idempotent.
#
#   bash bench/gpu/prepare.sh [PYTHON_VERSION [FOLDER [LIST]]]   # default: 3.12 .gpu-wheels bench/gpu/wheels.txt
#   then, on the GPU machine: python3 bench/gpu_check.py --out $OUT/gpu-check.json
# (tests/test_gpu_bench.py and tests/test_gpu_check.py also fetch the same pins, and bench/gpu/image.txt
# for the image's packages, for this machine's Python to dry-run the scripts as the GPU machine runs them)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
[[ -x $PY ]] || PY=python3
VERSION=${1:-3.12}
DEST=${2:-.gpu-wheels}
LIST=${3:-bench/gpu/wheels.txt}
mkdir -p "$DEST"
{ "$PY" -m pip download --disable-pip-version-check --no-deps --only-binary=:all: --python-version "$VERSION" \
    --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux_2_28_x86_64 -d "$DEST" -r "$LIST" 2>&1; } \
  | { grep -v -e 'is ignored: it is neither a file nor a directory' -e '^File was already downloaded' \
      -e '^Saved ' -e '^Collecting ' -e '^  Using cached' -e '^  Downloading ' || true; }
echo "prepare: $(ls "$DEST"/*.whl | wc -l) wheels for Python $VERSION, $(du -sm "$DEST" | cut -f1) MB in $DEST"
