"""Stage evaluate: per-run leaderboard, the ensemble, thresholds, post-processing, answer.txt, report
(see tinyactions.leaderboard for the outputs and which numbers are cross-validated)."""

from tinyactions import settings, stage
from tinyactions.leaderboard import evaluate


def main() -> None:
    stage.logger("evaluate")
    evaluate(settings.load())


if __name__ == "__main__":
    stage.run("evaluate", main)
