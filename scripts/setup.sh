#!/usr/bin/env bash
# Builds the project's virtual environment at .venv/ from the project's own files, idempotently.
#
#   requirements/runtime.txt    top-level pins, installed with their dependencies
#   requirements/lock.txt       the full resolved set, applied as constraints (reproducible installs)
#   requirements/openmmlab.txt  mmengine / mmaction2 / mmagic, installed --no-deps (see that file)
#   mmcv-lite 2.1.0             mmcv without compiled ops: the pipeline runs none (RealBasicVSR, ir-CSN and
#                               UniFormer are plain torch layers), and RealBasicVSR is registered without
#                               importing mmagic's other editors (tinyactions/core/compat.py). No compiler needed.
#
# The switch for other mmagic networks: `scripts/setup.sh --full-ops` (or TINYACTIONS_FULL_OPS=1, which
# `make` passes through; the choice sticks to .venv until TINYACTIONS_FULL_OPS=0) installs
# requirements/full-ops.txt and builds mmcv 2.1.0 with its compiled ops from the source release, once per
# machine, cached under $TINYACTIONS_CACHE (default ~/.cache/tinyactions): its GPU ops only with a visible
# GPU and an nvcc of torch's own CUDA release (or FORCE_CUDA=1), else its CPU ops, with one line saying
# why. MAX_JOBS bounds the compile parallelism (default: cores).
#
# Packages are installed without compiling their bytecode (--no-compile): Python writes it on first import,
# and torch alone holds thousands of modules. A rerun whose inputs did not change returns at once (stamp
# file .venv/.setup-stamp). On every run, also then: the `dvc plots` page template
# (.dvc/offline_plots.html, Vega, Vega-Lite and Vega-Embed inline, fetched once from the npm registry),
# and, where an NVIDIA driver is present, one line when it is too old for torch's CUDA release.
#
#   scripts/setup.sh --ops    print the --full-ops compile choice (cpu | cuda) and its reason, then exit
#   scripts/setup.sh --driver only the driver check, then exit
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PYTHON=${PYTHON:-python3}
CACHE=${TINYACTIONS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tinyactions}
MMCV_VERSION=2.1.0
STAMP=$VENV/.setup-stamp
# the build this .venv was made with sticks (.venv/.full-ops) until TINYACTIONS_FULL_OPS says otherwise
FULL_OPS=${TINYACTIONS_FULL_OPS:-$(cat "$VENV/.full-ops" 2>/dev/null || echo 0)}
[[ ${1:-} == --full-ops ]] && FULL_OPS=1
want=$({ cat requirements/*.txt scripts/setup.sh pyproject.toml; echo "full-ops=$FULL_OPS"; } | sha256sum | cut -c1-16)

log() { printf 'setup: %s\n' "$*" >&2; }
# pip, minus this machine's warnings about absent local index folders
pip_in() {
  local py=$1; shift
  { "$py" -m pip --disable-pip-version-check "$@" 2>&1; } | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
}

# cpu | cuda for mmcv's compiled ops (--full-ops), and why (one line); $1: a python with torch
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

# one line when the NVIDIA driver is too old for torch's CUDA (another major release, or a newer minor
# with which torch sees no GPU); on every run, also when .venv is up to date; $1: a python with torch
check_driver() {
  local py=$1 driver_cuda
  command -v nvidia-smi >/dev/null || return 0
  driver_cuda=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\.[0-9]*\).*/\1/p' | head -n 1)
  [[ -n $driver_cuda ]] || return 0
  "$py" - "$driver_cuda" <<'PY' || true
import sys, torch
driver, built = sys.argv[1], torch.version.cuda
if built and tuple(map(int, built.split("."))) > tuple(map(int, driver.split("."))):
    # a newer minor release of the same major may still run (CUDA's minor version compatibility)
    if built.split(".")[0] != driver.split(".")[0] or not torch.cuda.is_available():
        print(f"setup: torch {torch.__version__} is built for CUDA {built}, newer than this NVIDIA driver's "
              f"CUDA {driver}: no GPU will be used until the driver is updated", file=sys.stderr)
PY
}

if [[ ${1:-} == --ops ]]; then
  choose_ops "${VPY:-$VENV/bin/python}"
  exit 0
fi
if [[ ${1:-} == --driver ]]; then
  check_driver "${VPY:-$VENV/bin/python}"
  exit 0
fi

# the `dvc plots` page template with the Vega libraries inline (tinyactions/app/plots_page.py: standard
# library only, pinned sha512; fetched once), and DVC told to use it in this checkout (.dvc/config.local:
# a clone that has not run setup keeps DVC's own page)
offline_plots() {
  "$PYTHON" -m tinyactions.app.plots_page template
  grep -qs 'html_template' .dvc/config.local \
    || "$VENV/bin/dvc" config --local plots.html_template offline_plots.html
}

if [[ -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
  offline_plots
  check_driver "$VENV/bin/python"
  log ".venv is up to date ($want)"
  exit 0
fi
start=$SECONDS

[[ -x $VENV/bin/python ]] || { log "creating $VENV with $($PYTHON --version)"; "$PYTHON" -m venv "$VENV"; }
VPY=$VENV/bin/python
log "installing runtime requirements"
pip_in "$VPY" install -q --no-compile -r requirements/runtime.txt -c requirements/lock.txt

build_mmcv() {  # $1: cpu | cuda; $2: the wheel cache folder
  local ops=$1 wheel_dir=$2 tmp force_cuda=0
  [[ $ops == cuda ]] && force_cuda=1
  tmp=$(mktemp -d)
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

# one mmcv at a time: both distributions install the package `mmcv`
pip_in "$VPY" uninstall -q -y mmcv mmcv-lite | { grep -v '^WARNING: Skipping' || true; }
if [[ $FULL_OPS == 1 ]]; then
  log "--full-ops: every mmagic editor's requirements and mmcv with compiled ops"
  pip_in "$VPY" install -q --no-compile -r requirements/full-ops.txt -c requirements/lock.txt
  torch_version=$("$VPY" -c 'import torch; print(torch.__version__.split("+")[0])')
  py_tag=$("$VPY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  read -r ops why <<<"$(choose_ops "$VPY")"
  log "mmcv ops: $ops ($why)"
  wheel_dir=$CACHE/wheels/mmcv-$MMCV_VERSION-torch$torch_version-$py_tag-$ops
  if ! compgen -G "$wheel_dir/mmcv-*.whl" >/dev/null; then
    build_mmcv "$ops" "$wheel_dir"
  else
    log "using cached mmcv wheel in $wheel_dir"
  fi
  pip_in "$VPY" install -q --no-compile --no-deps "$wheel_dir"/mmcv-*.whl
else
  pip_in "$VPY" install -q --no-compile --no-deps "mmcv-lite==$MMCV_VERSION"
fi
pip_in "$VPY" install -q --no-compile --no-deps -r requirements/openmmlab.txt -c requirements/lock.txt
# this project, editable, for the `tinyactions` command (pyproject.toml: the stages import their workspace's copy)
pip_in "$VPY" install -q --no-compile --no-deps --no-build-isolation -e .

# what the pipeline imports, through the compat module: RealBasicVSR and the mmaction2 models
"$VPY" -W ignore -c 'from tinyactions.core import compat; compat.register_realbasicvsr(); import mmaction.models' \
  || { log "the OpenMMLab packages do not import: see the error above"; exit 1; }
[[ $FULL_OPS == 1 ]] && { "$VPY" -c 'import mmcv.ops, mmagic.models' || { log "mmcv was installed without its compiled ops"; exit 1; }; }
check_driver "$VPY"
offline_plots
echo "$FULL_OPS" > "$VENV/.full-ops"
echo "$want" > "$STAMP"
log "done in $((SECONDS - start)) s"
