#!/usr/bin/env bash
# A side environment for the benchmarks' peers: .venv-bench sees every package of .venv (through a .pth
# file) plus requirements/bench.txt, so the runtime environment never carries the peers' extras.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[[ -x .venv-bench/bin/python ]] || python3 -m venv .venv-bench
.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
  > "$(.venv-bench/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz_project_venv.pth"
{ .venv-bench/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements/bench.txt 2>&1; } \
  | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
echo "setup-bench: .venv-bench ready"
