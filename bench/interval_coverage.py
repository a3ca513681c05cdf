"""Do the bootstrap intervals cover their level? A simulation whose design was fixed before it ran.

    make repro   # the demo's val scores and bundle
    .venv/bin/python bench/interval_coverage.py [--replicates 1000] [--draws 1000]

Design (bench/README.md keeps it with the table):
- A population of source videos, each with ``clips`` clips: 16 at TinyVIRAT-v2's size (3,308 val clips
  over about 200 sources) and 4 at the demo's (120 over 30). Each clip's label set comes from the demo
  generator's label sampler (``data.synth.sample_labels``). Within-source correlation ``rho``: a clip takes
  its source's label set (the same scene, the same people) with probability ``rho``, else draws its own;
  ``rho`` over 0, 0.25, 0.5 (the stated range).
- Scores resampled per class and label from the demo's real val scores (the ensemble's, in
  submission/val_predictions.csv): a positive of class c from c's positive scores (pooled over every class
  when c has fewer than 3 positives in val), a negative from c's negatives.
- Decisions held fixed, as the intervals assume: the bundle's thresholds; the paired difference is those
  thresholds against 0.5 on the same clips.
- Truth: the estimand (the mean F1 over the classes with positives) of the same decisions on a population
  of 20,000 sources, where every class has positives; for the pair, the difference of the two.
- ``replicates`` samples of 30 and 200 fresh sources each, ``draws`` bootstrap draws each (the pipeline's
  1,000), at the 95% level; each method's interval from the same draws. Reported per method, size and
  rho: coverage, the share of intervals wholly below the truth (left miss) and wholly above it (right
  miss), and the Monte Carlo error of the coverage, sqrt(p (1 - p) / replicates).
Target: at 200 sources coverage within [0.93, 0.97] with each tail at most 3.5%.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tinyactions.challenge.annotations import CLASSES, SCORE_COLUMNS  # noqa: E402
from tinyactions.challenge.metrics import per_class  # noqa: E402
from tinyactions.core.paths import REPO  # noqa: E402
from tinyactions.data.index import truth  # noqa: E402
from tinyactions.data.synth import sample_labels  # noqa: E402
from tinyactions.decide.intervals import METHODS, Bootstrap, bounds  # noqa: E402

SIZES = {30: 4, 200: 16}  # sources: clips per source
RHOS = (0.0, 0.25, 0.5)
POPULATION = 20_000
POOL = 100_000  # label sets drawn once from the sampler; clips index into it
LEVEL = 0.95


def label_pool(rng: np.random.Generator) -> np.ndarray:
    index = {c: i for i, c in enumerate(CLASSES)}
    pool = np.zeros((POOL, len(CLASSES)), bool)
    for row in range(POOL):
        pool[row, [index[c] for c in sample_labels(rng)]] = True
    return pool


def demo_scores() -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Per class: the val scores of its positives and of its negatives; and the bundle's thresholds."""
    val = pd.read_parquet(REPO.index("val"))
    ids, labels = truth(val)
    table = pd.read_csv(REPO.val_predictions, dtype={"id": str}).set_index("id").loc[ids]
    scores = np.nan_to_num(table[list(SCORE_COLUMNS)].to_numpy(float), nan=0.0)
    pooled = scores[labels.astype(bool)]
    positives = [scores[labels[:, k] == 1, k] if labels[:, k].sum() >= 3 else pooled for k in range(len(CLASSES))]
    negatives = [scores[labels[:, k] == 0, k] for k in range(len(CLASSES))]
    thresholds = np.asarray(json.loads(REPO.bundle.read_text())["thresholds"])
    return positives, negatives, thresholds


class Population:
    """Samples of sources: labels with within-source correlation ``rho``, scores from the demo's."""

    def __init__(self, pool, positives, negatives, rho: float, clips: int):
        self.pool, self.positives, self.negatives, self.rho, self.clips = pool, positives, negatives, rho, clips

    def sample(self, sources: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(labels, scores, source of each clip) of ``sources`` fresh sources."""
        n = sources * self.clips
        source_of = np.repeat(np.arange(sources), self.clips)
        own = rng.integers(0, POOL, n)
        scene = rng.integers(0, POOL, sources)[source_of]
        labels = self.pool[np.where(rng.random(n) < self.rho, scene, own)]
        scores = np.empty(labels.shape)
        for k in range(labels.shape[1]):
            for hits, values in ((labels[:, k], self.positives[k]), (~labels[:, k], self.negatives[k])):
                scores[hits, k] = values[rng.integers(0, len(values), int(hits.sum()))]
        return labels.astype(np.int8), scores, source_of


def estimate(labels: np.ndarray, predicted: np.ndarray) -> float:
    """The estimand, as the pipeline computes it."""
    return per_class(labels, np.asarray(predicted).astype(np.int8)).macro_f1_present


def replicate(population, sources, thresholds, rng, draws: int) -> dict:
    """Each method's interval for the estimate and for the paired difference, from one sample."""
    labels, scores, source_of = population.sample(sources, rng)
    a, b = (scores >= thresholds).astype(np.int8), (scores >= 0.5).astype(np.int8)
    boot = Bootstrap.over(source_of, draws, int(rng.integers(2**31)), LEVEL)
    out = {}
    for name, statistic in (
        ("f1", boot._statistic(labels, a)),
        ("paired", _difference(boot._statistic(labels, a), boot._statistic(labels, b))),
    ):
        drawn = statistic(boot.weights)
        point = float(statistic(np.ones((1, boot.sources)))[0])
        jackknife = statistic(1 - np.eye(boot.sources))
        out[name] = {m: bounds(drawn, point, LEVEL, m, jackknife) for m in METHODS}
    return out


def _difference(sa, sb):
    return lambda weights: sa(weights) - sb(weights)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    started = time.monotonic()
    rng = np.random.default_rng(args.seed)
    pool = label_pool(rng)
    positives, negatives, thresholds = demo_scores()
    rows = []
    for rho in RHOS:
        for sources, clips in SIZES.items():
            population = Population(pool, positives, negatives, rho, clips)
            labels, scores, _ = population.sample(POPULATION, rng)
            truth_f1 = estimate(labels, scores >= thresholds)
            truth = {"f1": truth_f1, "paired": truth_f1 - estimate(labels, scores >= 0.5)}
            missed = {(t, m): [0, 0] for t in truth for m in METHODS}
            for _ in range(args.replicates):
                found = replicate(population, sources, thresholds, rng, args.draws)
                for target, by_method in found.items():
                    for method, ci in by_method.items():
                        missed[target, method][0] += ci["hi"] < truth[target]  # below the truth: a left miss
                        missed[target, method][1] += ci["lo"] > truth[target]
            for (target, method), (left, right) in missed.items():
                r = args.replicates
                coverage = 1 - (left + right) / r
                rows.append(
                    {
                        "target": target,
                        "method": method,
                        "sources": sources,
                        "clips_per_source": clips,
                        "rho": rho,
                        "truth": truth[target],
                        "coverage": coverage,
                        "left_miss": left / r,
                        "right_miss": right / r,
                        "mc_error": float(np.sqrt(coverage * (1 - coverage) / r)),
                    }
                )
            print(f"rho {rho}, {sources} sources: done ({time.monotonic() - started:.0f} s)", flush=True)
    table = pd.DataFrame(rows).sort_values(["target", "method", "sources", "rho"])
    print(
        f"\n{args.replicates} replicates x {args.draws} draws, level {LEVEL}; truth on {POPULATION:,} sources; "
        f"{(time.monotonic() - started) / 60:.1f} min\n"
    )
    print("| target | method | sources | rho | coverage | left miss | right miss | MC error |")
    print("|---|---|---|---|---|---|---|---|")
    for r in table.itertuples():
        print(
            f"| {r.target} | {r.method} | {r.sources} ({r.clips_per_source}/source) | {r.rho} | {r.coverage:.3f} | "
            f"{r.left_miss:.3f} | {r.right_miss:.3f} | {r.mc_error:.3f} |"
        )
    out = ROOT / "data/bench/interval_coverage.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)


if __name__ == "__main__":
    main()
