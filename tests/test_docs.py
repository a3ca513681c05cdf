"""README.md and docs/: README stays short enough to finish, every relative link and anchor resolves, the
headline numbers README quotes are the committed metrics files' values, and "seed" names randomness only
(the reproduced method is "the paper")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 300
HEADLINE_HEADER = ("number", "value", "file", "key")


def pages() -> list[Path]:
    """The Markdown files a reader follows: README, every docs page, and the bench's README."""
    return [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]


def without_code(text: str) -> str:
    """``text`` without fenced code blocks and inline code spans (a link there is not a link)."""
    text = re.sub(r"^```.*?^```[^\n]*$", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lowercased, punctuation but '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors by its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, numbered as GitHub numbers repeated headings (-1, -2, ...)."""
    seen: dict[str, int] = {}
    out = set()
    text = re.sub(r"^```.*?^```[^\n]*$", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(path: Path, text: str | None = None) -> list[str]:
    """Relative links of ``path`` (its text, or ``text``) whose file or heading anchor does not exist."""
    text = path.read_text(encoding="utf-8") if text is None else text
    problems = []
    for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", without_code(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            problems.append(f"{path.relative_to(ROOT)}: {target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{path.relative_to(ROOT)}: {target}: no heading with this anchor")
    return problems


def headline_rows(text: str) -> list[list[str]]:
    """Rows of README's headline tables (columns: number | value | file | key), cells without backticks."""
    rows, in_table = [], False
    for line in text.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells is None:
            in_table = False
        elif tuple(cells) == HEADLINE_HEADER:
            in_table = True
        elif in_table and not set("".join(cells)) <= set("-: "):
            rows.append(cells)
    return rows


def lookup(data: object, key: str) -> object:
    """The value at a dotted key path; a key may itself hold dots (``f1_at_0.5_cv``): the longest match wins."""
    while key:
        if isinstance(data, list):
            head, _, key = key.partition(".")
            data = data[int(head)]
            continue
        if not isinstance(data, dict):
            raise KeyError(key)
        match = max((k for k in data if key == k or key.startswith(k + ".")), key=len, default=None)
        if match is None:
            raise KeyError(key)
        data, key = data[match], key[len(match) + 1 :]
    return data


def shown(value: object, printed: str) -> str:
    """``value`` printed as ``printed`` is: a number with the same decimals, or a [a, b] list of them (an
    interval's named bounds ``{"lo", "hi"}`` print as [lo, hi])."""
    if isinstance(value, dict) and set(value) == {"lo", "hi"}:
        value = [value["lo"], value["hi"]]
    if printed.startswith("["):
        parts = [p.strip() for p in printed.strip("[]").split(",")]
        if not isinstance(value, list) or len(value) != len(parts):
            return repr(value)
        return "[" + ", ".join(shown(v, p) for v, p in zip(value, parts)) + "]"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    decimals = len(printed.partition(".")[2])
    return f"{value:.{decimals}f}"


def headline_mismatches(text: str, root: Path = ROOT) -> tuple[int, list[str]]:
    """(rows checked, one line per row whose value is not its file's value at its key, rounded as printed)."""
    problems, rows = [], headline_rows(text)
    for row in rows:
        if len(row) != len(HEADLINE_HEADER):
            problems.append(f"{row}: expected the columns {HEADLINE_HEADER}")
            continue
        name, printed, file, key = row
        try:
            value = lookup(json.loads((root / file).read_text(encoding="utf-8")), key)
        except (OSError, ValueError, KeyError, IndexError) as e:
            problems.append(f"{name}: {file} {key}: {type(e).__name__}: {e}")
            continue
        if shown(value, printed) != printed:
            problems.append(f"{name}: README says {printed}, {file} {key} holds {value!r}")
    return len(rows), problems


def test_readme_is_short_enough_to_finish():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines (at most {MAX_README_LINES}): move a topic to docs/"


def test_readme_keeps_the_two_first_commands():
    text = README.read_text(encoding="utf-8")
    assert "make repro" in text and "make test" in text


@pytest.mark.parametrize("path", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(path):
    assert broken_links(path) == []


def test_a_broken_link_or_anchor_is_caught():
    text = "[a](docs/no-such-page.md) [b](docs/statistics.md#no-such-heading) [c](#no-such-heading)"
    assert len(broken_links(README, text)) == 3
    assert broken_links(README, "[ok](docs/statistics.md#the-metric-and-what-val-estimates) `[code](nowhere.md)`") == []


def test_slugs_follow_github():
    assert slug("The `tinyactions` command") == "the-tinyactions-command"
    assert slug("Settings: each phase owns its sections") == "settings-each-phase-owns-its-sections"
    assert slug("The paper configuration's smoke run") == "the-paper-configurations-smoke-run"
    assert slug("GPU bench and CUDA check, prepared (`gpu_bench.py`, `gpu/`)") == (
        "gpu-bench-and-cuda-check-prepared-gpu_benchpy-gpu"
    )


def test_headline_numbers_are_the_committed_metrics():
    rows, problems = headline_mismatches(README.read_text(encoding="utf-8"))
    assert rows >= 5, "README's headline table (number | value | file | key) is missing or nearly empty"
    assert problems == []


def test_a_planted_wrong_headline_number_is_caught():
    text = README.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if "`metrics/leaderboard.json` | `f1` |" in line)
    printed = row.split("|")[2].strip()
    wrong = f"{float(printed) + 0.001:.{len(printed.partition('.')[2])}f}"
    _, before = headline_mismatches(text)
    rows, problems = headline_mismatches(text.replace(row, row.replace(f"| {printed} |", f"| {wrong} |")))
    assert rows >= 5 and len(problems) == len(before) + 1
    assert any(f"README says {wrong}" in p for p in problems)
    _, problems = headline_mismatches(text.replace(row, row.replace("`f1` |", "`f1_no_such_key` |")))
    assert len(problems) == len(before) + 1 and any("KeyError" in p for p in problems)


def test_lookup_takes_keys_that_hold_dots():
    data = {"ensemble": {"f1_at_0.5_cv": 0.25, "f1_ci": [0.1, 0.3]}, "a": {"b.c": {"d": 1}}}
    assert lookup(data, "ensemble.f1_at_0.5_cv") == 0.25
    assert lookup(data, "ensemble.f1_ci.1") == 0.3
    assert lookup(data, "a.b.c.d") == 1
    assert shown([0.16539, 0.28714], "[0.165, 0.287]") == "[0.165, 0.287]"
    assert shown(30, "30") == "30"


# "seed" as the reproduced method: "the seed" (not "the seed 0" or "the seeds"), "seed's", "seed" naming a
# method, recipe or equation; "seed 0", "every seed", "3 seeds", "`runs.<name>.seed`" are randomness
METHOD_SEED = re.compile(
    r"\bthe seed\b(?!s\b| \d|`)|\bseed's\b|\bseed (?:method|recipe|rule|eq\b|solution|configuration|paper|mix)",
    re.IGNORECASE,
)


def method_seeds(text: str) -> list[str]:
    """Each use of "seed" that names the method rather than randomness."""
    return [m.group(0) for m in METHOD_SEED.finditer(" ".join(text.split()))]


def test_the_seed_checker_tells_the_method_from_randomness():
    planted = "as the seed keeps its groups; the seed's rule; (seed eq. 1); a seed's ASL; departures from\nthe seed"
    assert method_seeds(planted) == ["the seed", "the seed", "seed eq", "seed's", "the seed"]
    assert method_seeds("seed 0, every seed, over 3 seeds, the seed 2 run, `runs.<name>.seed`, a training seed") == []


@pytest.mark.parametrize("path", pages()[:-1], ids=lambda p: str(p.relative_to(ROOT)))
def test_seed_names_randomness_only(path):
    """The reproduced method is "the paper"; "seed" is a random seed."""
    found = method_seeds(path.read_text(encoding="utf-8"))
    assert found == [], f"{path.relative_to(ROOT)}: {found}: the method is 'the paper'"


def test_the_readme_pipeline_table_names_every_section_each_stage_lists():
    """README's map says which params each stage reads: every top-level section a stage lists in dvc.yaml
    is named in its row (the full lists: docs/staleness.md, generated)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (`[a-z_@<>]+`(?:, `[a-z_@<>]+`)*) \| ([^|]+) \|", text, re.M)
    checked = set()
    for names, reads in rows:
        for name in re.findall(r"`([a-z_]+)", names):
            d = stages[name].get("do", stages[name])
            for param in d.get("params", []):
                section = (param if isinstance(param, str) else next(iter(param))).split(".")[0]
                assert re.search(rf"\b{section}\b", reads), f"README's row for {name} misses {section}"
            checked.add(name)
    assert checked == set(stages)  # every stage has its row
