"""The ``data`` section as every stage that reads videos reads it: which dataset (``source``) and where its
root is (``root``). How prepare treats entries that disagree with their videos is prepare's part of the
section (``tinyactions.data.prepare.Data``): a change there reruns prepare only. The demo generator's
section lives with it (``tinyactions.data.synth``), the balance section with prepare."""

from __future__ import annotations

from typing import Literal

from tinyactions.core.params import View


class Dataset(View):
    source: Literal["synth", "tinyvirat"]
    root: str
