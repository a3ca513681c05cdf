#!/usr/bin/env bash
# The pull request's leaderboard report (markdown on stdout), from scripts/leaderboard.sh's log and the
# plots drawn by `tinyactions plots render --png` (.github/workflows/leaderboard.yml).
#
#   PUBLISH=1 bash scripts/leaderboard_report.sh LOG IMAGES   # images published with `cml asset publish`
#   PUBLISH=0 ...                                             # images named, left in the job's artifact
#
# Job summaries and comments show hosted images only (GitHub strips data: URIs), so PUBLISH=1 uploads
# each PNG to CML's asset store, whose links anyone can open.
set -euo pipefail
log=$1
images=$2
echo "<!-- tinyactions-leaderboard -->"  # finds this report's comment again
sed -n '/^## Leaderboard/,$p' "$log"
echo
echo "## Plots (${BASE:-the base} vs this change)"
echo
shopt -s nullglob
pngs=("$images"/*.png)
if [ ${#pngs[@]} -eq 0 ]; then
    echo "No plot could be drawn: see the job's log."
elif [ "${PUBLISH:-0}" = 1 ]; then
    for png in "${pngs[@]}"; do
        cml asset publish "$png" --md
        echo
    done
else
    echo "${#pngs[@]} plots in the job's artifact \`leaderboard\` (not published: set the repository variable"
    echo "PUBLISH_PLOTS=true to show them here through CML's asset store):"
    echo
    for png in "${pngs[@]}"; do
        echo "- $(basename "$png")"
    done
fi
