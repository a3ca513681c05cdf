"""Stage synth: generate the demo dataset in the TinyVIRAT-v2 layout (data.source = synth).

With data.source = tinyvirat the real dataset is used and this stage writes only a note, so the
pipeline keeps one shape for both sources.
"""

from tinyactions.app import stage
from tinyactions.core.params import Reads
from tinyactions.core.paths import REPO
from tinyactions.core.progress import Phases
from tinyactions.data.settings import Dataset
from tinyactions.data.synth import Synth, write_demo


class SynthReads(Reads):
    data: Dataset
    synth: Synth


def main() -> None:
    log = stage.logger("synth")
    s = SynthReads.load(REPO.params)
    if s.data.source != "synth":
        write_demo(None, REPO.synth_lr, REPO.synth_hr)
        log.info("data.source = %s: demo dataset not generated", s.data.source)
        return
    cfg = s.synth
    total = cfg.videos.train + cfg.videos.val + cfg.videos.test
    log.info("rendering %d clips (%s) at %d px into %s", total, cfg.videos.model_dump(), cfg.hr_size, REPO.synth_lr)
    with Phases("clip") as progress:
        write_demo(cfg, REPO.synth_lr, REPO.synth_hr, progress=progress)
    log.info("wrote %s and clean renders in %s", REPO.synth_lr, REPO.synth_hr)


if __name__ == "__main__":
    stage.run("synth", main)
