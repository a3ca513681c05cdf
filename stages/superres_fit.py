"""Stage superres_fit: the RealBasicVSR generator the superres stage uses, in the official format.

superres.weights = fit: fit on the generated demo's HR/LR training pairs and report PSNR/SSIM of SR vs
bicubic on held-out val pairs (metrics/superres.json, superres_clips.csv, superres_fit.tsv);
superres.weights = <path>: validate an official checkpoint and copy it. Output:
models/superres/generator.pth (see tinyactions.superres.fit).
"""

from tinyactions.app import stage
from tinyactions.core.checkpoint_io import CheckpointError
from tinyactions.core.params import Reads
from tinyactions.core.paths import REPO
from tinyactions.core.progress import Phases
from tinyactions.data.settings import Dataset
from tinyactions.superres.fit import make_generator
from tinyactions.superres.fit_settings import Superres
from tinyactions.superres.settings import UpscaleExecution


class FitReads(Reads):
    data: Dataset
    superres: Superres
    execution: UpscaleExecution


def main() -> None:
    stage.logger("superres_fit")
    s = FitReads.load(REPO.params)
    with Phases("step") as progress:
        make_generator(s.superres, s.data.root, s.execution.superres_batch, REPO, progress)


if __name__ == "__main__":
    stage.run("superres_fit", main, errors=(CheckpointError,))  # superres.weights: a file from elsewhere
