#!/usr/bin/env bash
# Regenerate the leaderboard metrics from a DVC remote: pull what the remote already has (stage
# outputs and the run-cache), restore what is stale from the run-cache, recompute `evaluate` if no run
# of it is there, print `dvc metrics diff --md` against a base. A stage other than validate and evaluate
# that is stale and not in the run-cache is never run: the script fails and names those stages.
#
#   bash scripts/leaderboard.sh                 # base: main
#   LEADERBOARD_BASE=origin/main bash scripts/leaderboard.sh
#   LEADERBOARD_RUN_STALE=1 bash scripts/leaderboard.sh   # a machine that may train: run what is stale
#   LEADERBOARD_PUSH=1 bash scripts/leaderboard.sh   # also share new results (outputs + run-cache)
#
# Needs a default DVC remote (`dvc remote add -d <name> <url>`, committed in .dvc/config) that
# machines which ran the pipeline filled with `tinyactions share push`.
set -euo pipefail
base=${LEADERBOARD_BASE:-main}

if [ -z "$(dvc remote list)" ]; then
    echo "leaderboard: no DVC remote configured; add one with: dvc remote add -d shared <url>" >&2
    exit 2
fi
# Every leaderboard number is computed from the prepared index and the score tables (data/scores):
# small files, fetched first so a stale evaluate can be restored from the run-cache or rerun. Then
# up-to-date stages are skipped without downloading anything, and a stale stage whose inputs match a run
# the remote has seen is restored from the run-cache.
dvc pull -q --allow-missing prepare dump dump_student
if [ "${LEADERBOARD_RUN_STALE:-0}" = 1 ]; then
    # a machine that may train: the rest runs, after its inputs are pulled
    if ! dvc repro --pull --allow-missing; then
        # a stale upstream stage also reads the video folders behind the manifests it depends on
        echo "leaderboard: fetching all pipeline data for the stale stages" >&2
        dvc pull --allow-missing
        dvc repro
    fi
else
    # restore only (CI): dvc starts a stage's command only when the run-cache has no run of it, and then
    # every stage but validate and evaluate stops at once (tinyactions/app/stage.py); the others go on. A
    # restored stage prints "Stage '<name>' is cached", one that had to run "Running stage '<name>'".
    computable=validate,evaluate  # seconds each; everything else trains or decodes video
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    set +e
    TINYACTIONS_COMPUTE_ONLY=$computable dvc repro --pull --allow-missing --keep-going 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    computed() { grep -vxF -f <(tr , '\n' <<<"$computable") || true; }
    stale=$(sed -n "s/^Running stage '\(.*\)':\$/\1/p" "$log" | computed)
    if [ -n "$stale" ]; then
        after=$(grep "will be skipped due to this failure" "$log" | grep -o "'[^']*'" | tr -d "'" | computed \
            | sort -u | paste -sd ' ') || after=""  # none when no stage comes after them
        {
            echo "leaderboard: stale, and not in the remote's run-cache (this job trains nothing):"
            sed 's/^/  /' <<<"$stale"
            [ -z "$after" ] || echo "after them, not reached: $after"
            echo "run them where they can train and share the results (tinyactions share push),"
            echo "or set LEADERBOARD_RUN_STALE=1 to run them here"
        } >&2
        exit 1
    elif [ "$rc" -ne 0 ]; then
        echo "leaderboard: dvc repro failed (see above)" >&2
        exit "$rc"
    fi
fi
if [ "${LEADERBOARD_PUSH:-0}" = 1 ]; then
    tinyactions share push
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
