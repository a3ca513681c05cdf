"""metrics/ablation.md: this run's numbers laid out like the seed's Tables 1-3."""
from __future__ import annotations

from .settings import RunSpec


def _f(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def ablation_markdown(board: dict, specs: dict[str, RunSpec]) -> str:
    """``board``: the leaderboard; ``specs``: the recipe of every run it lists."""
    lines = ["# Ablation (validation macro F1; this pipeline's data)", "",
             "Paper numbers are on real TinyVIRAT-v2 with Kinetics-400 initialisation; these are the numbers of",
             "the data this pipeline ran on (the generated demo by default). F1 at threshold 0.5 unless noted.", "",
             "## Table 1: sampling and data balance", "",
             "| run | backbone | input | sampling | balance | best epoch | F1 best | F1 mean of last 3 |", "|---|---|---|---|---|---|---|---|"]
    for name, row in board["runs"].items():
        spec = specs[name]
        lines.append(f"| {name} | {spec.backbone} | {spec.input} | {spec.sampling} | {spec.balance} | "
                     f"{row['best_epoch']} | {_f(row['f1'])} | {_f(row['f1_last_epochs'])} |")
    lines += ["", "Paper (ir-CSN): without / uniform / uniform + balance = 0.403 / 0.442 / 0.469.", "",
              "## Table 2: super-resolution and distillation (ir-CSN)", "",
              "| input | run | F1 best | F1 mean of last 3 |", "|---|---|---|---|"]
    for label, kind in (("LR", ("lr", "bce")), ("SR", ("sr", "bce")), ("SR + KD", ("lr", "kd"))):
        for name, row in board["runs"].items():
            spec = specs[name]
            if spec.backbone == "ircsn" and (spec.input, spec.loss) == kind and spec.sampling == "uniform" \
                    and spec.balance:
                lines.append(f"| {label} | {name} | {_f(row['f1'])} | {_f(row['f1_last_epochs'])} |")
    lines += ["", "Paper: ir-CSN 0.469, ir-CSN (SR) 0.484, ir-CSN (SR + KD) 0.492.", "",
              "## Table 3: ensemble, thresholds, post-processing", "",
              "mAP is threshold-free; thresholds are fitted on val, so only the cross-validated column is an honest",
              "estimate of what they add.", "",
              "| step | mAP | F1 at 0.5 | F1 + thresholds (in-sample) | F1 + thresholds (cross-validated) |",
              "|---|---|---|---|---|"]
    e, s = board["ensemble"], board["single_best"]
    lines += [f"| single best run ({s['run']}) | {_f(s.get('mAP'))} | {_f(s['f1'])} | "
              f"{_f(s.get('f1_thresholds_in_sample'))} | {_f(s['f1_thresholds_cv'])} |",
              f"| single best checkpoint, chosen inside the folds | – | – | – | {_f(s.get('f1_selected_cv'))} |",
              f"| ensemble of {len(e['members'])} members | {_f(e.get('mAP'))} | {_f(e['f1_at_0.5'])} | "
              f"{_f(e['f1_thresholds_in_sample'])} | {_f(e['f1_thresholds_cv'])} |",
              f"| + post-processing ({len(e['groups'])} groups) | – | – | {_f(e['f1_postprocess_in_sample'])} | "
              f"{_f(e['f1_postprocess_cv'])} |"]
    if "greedy_selection" in board:
        lines.append(f"| greedy member selection (beyond the seed) | – | – | – | {_f(board['greedy_selection']['f1_cv'])} |")
    lines.append(f"\nThreshold strategy: {e['threshold_strategy']}. Submission rule: thresholds + "
                 f"{len(e.get('groups_applied', []))} post-processing group(s); val F1 {_f(board.get('f1'))} "
                 f"(cross-validated {_f(board.get('f1_cv'))}).")
    lines += ["", f"Members: {', '.join(e['members'])}.", "",
              "Post-processing groups and their cross-validated gain: " +
              ("; ".join(f"{g}: {v:+.3f}" for g, v in e["group_gain_cv"].items()) or "none") + ".", "",
              "Paper: 12-member ensemble with post-processing 0.883 (test server).", ""]
    return "\n".join(lines)
