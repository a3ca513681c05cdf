#!/usr/bin/env bash
# Builds the project's virtual environment at .venv/ from the project's own files, idempotently.
#
#   requirements/runtime.txt    top-level pins, installed with their dependencies
#   requirements/lock.txt       the full resolved set, applied as constraints (reproducible installs)
#   requirements/openmmlab.txt  mmengine / mmaction2 / mmagic, installed --no-deps (see that file)
#   mmcv 2.1.0                  built from its source release (no wheel exists for torch 2.14) once per
#                               machine and cached under $TINYACTIONS_CACHE (default ~/.cache/tinyactions)
#
# A rerun whose inputs did not change returns at once (stamp file .venv/.setup-stamp). mmcv's GPU ops are
# built only where they can build: a visible GPU and an nvcc whose CUDA release is the one torch was built
# with (or FORCE_CUDA=1); otherwise its CPU ops, with one line saying why. Nothing in the pipeline runs an
# mmcv op (RealBasicVSR, ir-CSN and UniFormer are plain torch layers); `import mmagic.models` only needs
# mmcv.ops compiled (BasicVSR++, EDVR, TDAN import deformable convolutions), so CPU ops lose nothing.
# The cached wheel is keyed by that choice. MAX_JOBS bounds the compile parallelism (default: cores).
#
#   scripts/setup.sh --ops    print the choice (cpu | cuda) and its reason, then exit
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PYTHON=${PYTHON:-python3}
CACHE=${TINYACTIONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tinyactions}
MMCV_VERSION=2.1.0
STAMP=$VENV/.setup-stamp
want=$(cat requirements/*.txt scripts/setup.sh | sha256sum | cut -c1-16)

log() { printf 'setup: %s\n' "$*" >&2; }
# pip, minus this machine's warnings about absent local index folders
pip_in() {
  local py=$1; shift
  { "$py" -m pip --disable-pip-version-check "$@" 2>&1; } | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
}

# cpu | cuda for mmcv's compiled ops, and why (one line); $1: a python with torch
choose_ops() {
  local py=$1 torch_cuda nvcc_cuda
  if [[ ${FORCE_CUDA:-} == 1 ]]; then echo "cuda FORCE_CUDA=1"; return; fi
  torch_cuda=$("$py" -c 'import torch; print(torch.version.cuda or "")')
  if ! command -v nvcc >/dev/null; then echo "cpu no nvcc on PATH"; return; fi
  nvcc_cuda=$(nvcc --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
  if [[ -z $torch_cuda ]]; then echo "cpu torch is a CPU-only build"; return; fi
  if [[ $nvcc_cuda != "$torch_cuda" ]]; then
    echo "cpu the CUDA toolkit (nvcc $nvcc_cuda) differs from torch's CUDA $torch_cuda: building mmcv's CPU ops (the pipeline runs none of its ops)"
    return
  fi
  if ! "$py" -c 'import torch,sys; sys.exit(not torch.cuda.is_available())'; then echo "cpu no visible GPU"; return; fi
  echo "cuda nvcc $nvcc_cuda matches torch's CUDA $torch_cuda"
}

if [[ ${1:-} == --ops ]]; then
  choose_ops "${VPY:-$VENV/bin/python}"
  exit 0
fi

if [[ -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
  log ".venv is up to date ($want)"
  exit 0
fi
start=$SECONDS

[[ -x $VENV/bin/python ]] || { log "creating $VENV with $($PYTHON --version)"; "$PYTHON" -m venv "$VENV"; }
VPY=$VENV/bin/python
log "installing runtime requirements"
pip_in "$VPY" install -q -r requirements/runtime.txt -c requirements/lock.txt

torch_version=$("$VPY" -c 'import torch; print(torch.__version__.split("+")[0])')
py_tag=$("$VPY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
read -r ops why <<<"$(choose_ops "$VPY")"
log "mmcv ops: $ops ($why)"
if [[ $ops == cuda ]]; then force_cuda=1; else force_cuda=0; fi
wheel_dir=$CACHE/wheels/mmcv-$MMCV_VERSION-torch$torch_version-$py_tag-$ops

build_mmcv() {
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  log "building mmcv $MMCV_VERSION with $ops ops (once per machine; about 8 min on 2 cores) in $tmp"
  # A separate build environment: mmcv's setup.py imports pkg_resources (setuptools < 70) while torch
  # 2.14 declares setuptools >= 77. Torch itself is taken from the project venv through a .pth file.
  "$PYTHON" -m venv "$tmp/bv"
  local bpy=$tmp/bv/bin/python
  "$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
    > "$("$bpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz_project_venv.pth"
  pip_in "$bpy" install -q 'setuptools<70' wheel ninja
  (cd "$tmp" && pip_in "$bpy" download -q --no-deps --no-binary :all: --no-build-isolation \
    "mmcv==$MMCV_VERSION" -d src)
  tar -xzf "$tmp/src/mmcv-$MMCV_VERSION.tar.gz" -C "$tmp"
  # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes -std=c++14 / c++17.
  sed -i 's/-std=c++1[47]/-std=c++20/g' "$tmp/mmcv-$MMCV_VERSION/setup.py"
  (cd "$tmp/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 FORCE_CUDA=$force_cuda MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    pip_in "$bpy" wheel -q --no-deps --no-build-isolation -w "$tmp/dist" .)
  local built; built=$(ls "$tmp"/dist/mmcv-*.whl)
  mkdir -p "$wheel_dir.partial"
  cp "$built" "$wheel_dir.partial/"
  rm -rf "$wheel_dir" && mv "$wheel_dir.partial" "$wheel_dir"   # a cache entry is whole or absent
}

if ! compgen -G "$wheel_dir/mmcv-*.whl" >/dev/null; then
  build_mmcv
else
  log "using cached mmcv wheel in $wheel_dir"
fi
pip_in "$VPY" install -q --no-deps "$wheel_dir"/mmcv-*.whl
pip_in "$VPY" install -q --no-deps -r requirements/openmmlab.txt -c requirements/lock.txt

"$VPY" -c 'import mmcv.ops' || { log "mmcv was installed without its compiled ops"; exit 1; }
echo "$want" > "$STAMP"
log "done in $((SECONDS - start)) s; $(du -sh "$VENV" | cut -f1) in $VENV"
