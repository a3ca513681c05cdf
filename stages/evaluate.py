"""Stage evaluate: per-run leaderboard, the ensemble, thresholds, post-processing, answer.txt, report
(see tinyactions.decide.evaluate for the outputs and which numbers are cross-validated)."""

from tinyactions.app import stage
from tinyactions.core.paths import REPO
from tinyactions.decide.evaluate import evaluate
from tinyactions.decide.settings import Evaluation


def main() -> None:
    stage.logger("evaluate")
    evaluate(Evaluation.load(REPO.params), REPO)


if __name__ == "__main__":
    stage.run("evaluate", main)
