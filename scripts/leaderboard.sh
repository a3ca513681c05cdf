#!/usr/bin/env bash
# Regenerate the leaderboard metrics from a DVC remote: pull what the remote already has (stage
# outputs and the run-cache), rerun only what is stale, print `dvc metrics diff --md` against a base.
#
#   bash scripts/leaderboard.sh                 # base: main
#   LEADERBOARD_BASE=origin/main bash scripts/leaderboard.sh
#   LEADERBOARD_PUSH=1 bash scripts/leaderboard.sh   # also share new results (outputs + run-cache)
#
# Needs a default DVC remote (`dvc remote add -d <name> <url>`, committed in .dvc/config) that
# machines which ran the pipeline filled with `python -m tinyactions.sharing push`.
set -euo pipefail
base=${LEADERBOARD_BASE:-main}

if [ -z "$(dvc remote list)" ]; then
    echo "leaderboard: no DVC remote configured; add one with: dvc remote add -d shared <url>" >&2
    exit 2
fi
# Every leaderboard number is computed from the prepared index and the score tables (data/scores):
# small files,
# fetched first so a stale evaluate can be restored from the run-cache or rerun. Then up-to-date
# stages are skipped without downloading anything, a stale stage whose inputs match a run the remote
# has seen is restored from the run-cache, and only the rest runs, after its inputs are pulled.
dvc pull -q --allow-missing prepare dump dump_student
if ! dvc repro --pull --allow-missing; then
    # a stale upstream stage also reads the video folders behind the manifests it depends on
    echo "leaderboard: fetching all pipeline data for the stale stages" >&2
    dvc pull --allow-missing
    dvc repro
fi
if [ "${LEADERBOARD_PUSH:-0}" = 1 ]; then
    python -m tinyactions.sharing push
fi

echo
if git rev-parse -q --verify "$base^{commit}" >/dev/null; then
    echo "## Leaderboard: workspace vs $base"
    echo
    diff=$(dvc metrics diff "$base" --md --targets metrics/leaderboard.json)
    if [ "$(grep -c '^|' <<<"$diff")" -le 2 ]; then  # a header without rows
        echo "No leaderboard metric differs from $base."
    else
        echo "$diff"
    fi
else
    echo "leaderboard: base revision '$base' not found (set LEADERBOARD_BASE); showing the workspace" >&2
    dvc metrics show --md --targets metrics/leaderboard.json
fi
