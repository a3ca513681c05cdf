"""Stage superres_fit: the RealBasicVSR generator the superres stage uses, in the official format.

superres.weights = fit: fit on the generated demo's HR/LR training pairs and report PSNR/SSIM of SR vs
bicubic on held-out val pairs (metrics/superres.json, superres_clips.csv, superres_fit.tsv);
superres.weights = <path>: validate an official checkpoint and copy it. Output:
models/superres/generator.pth (see tinyactions.superres_fit).
"""

from tqdm import tqdm

from tinyactions import settings, stage
from tinyactions.checkpoint_io import CheckpointError
from tinyactions.superres_fit import make_generator


def main() -> None:
    stage.logger("superres_fit")
    s = settings.load()
    with tqdm(total=s.superres.fit.iterations if s.superres.weights == "fit" else 0, desc="fit", unit="it") as bar:

        def step(loss: float) -> None:
            bar.set_postfix(l1=f"{loss:.4f}")
            bar.update(1)

        make_generator(s.superres, s.data.root, s.execution.superres_batch, progress=step)


if __name__ == "__main__":
    stage.run("superres_fit", main, errors=(CheckpointError,))  # superres.weights: a file from elsewhere
