"""Stage validate: check the whole params.yaml before any stage works.

It depends on params.yaml as a file, so every change (a typo included) reruns it first; it writes the
same marker every time, so a valid change reruns only what reads the changed keys. The root stages
(synth, prepare) depend on the marker: nothing runs after an invalid change.
"""

from tinyactions import settings
from tinyactions.app import stage
from tinyactions.core.files import write_text
from tinyactions.core.paths import REPO


def main() -> None:
    s = settings.load(REPO.params)
    write_text(REPO.validated, "params.yaml is valid\n")
    stage.logger("validate").info("params.yaml: valid (%d runs: %s)", len(s.run_names()), ", ".join(s.run_names()))


if __name__ == "__main__":
    stage.run("validate", main)
