"""`dvc plots show` / `dvc plots diff` pages that open without internet, and a headless check of them.

DVC's page loads Vega, Vega-Lite and Vega-Embed from a CDN: on a machine without internet (many GPU
clusters) every plot is blank. The project's page template (`.dvc/config`: ``plots.html_template``)
carries the three libraries inline instead, at the versions DVC's renderer asks for, fetched from the npm
registry by ``scripts/setup.sh`` and checked against their published sha512. It also asks Vega-Embed for
SVG, so a plot stays sharp when zoomed and can be read back from the page.

    tinyactions plots template           # write .dvc/offline_plots.html (setup does)
    tinyactions plots render PAGE --out DIR [--png]
        # open a plots page in headless Chromium, check that every plot drew, write each as SVG (and PNG)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / ".dvc" / "offline_plots.html"  # git-ignored; .dvc/config names it relative to .dvc/
REGISTRY = "https://registry.npmjs.org"
MAX_TARBALL = 32 * 2**20


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    file: str  # inside the package tarball
    integrity: str  # the registry's dist.integrity


# The versions dvc-render's VegaRenderer loads from the CDN, so a spec renders as DVC meant it.
LIBRARIES = (
    Library(
        "vega",
        "5.20.2",
        "build/vega.min.js",
        "sha512-qmH7aD9GGPpssVdxL1xgcdxTbQzyRUeRR16Os385ymvQhiwCYQNA6+eXUPAZDTVLfk0RXu6Jzj6kUE5jQ80EVw==",
    ),
    Library(
        "vega-lite",
        "5.2.0",
        "build/vega-lite.min.js",
        "sha512-Yxcg8MvYfxHcG6BbkaKT0oVCIMIcE19UvqIsEwBmyd/7h2nzW7oRnID81T8UrY7hpDrIr6wa2JADOT2dhGNErw==",
    ),
    Library(
        "vega-embed",
        "6.18.2",
        "build/vega-embed.min.js",
        "sha512-wcDyQPE4J5aiCDc3/suH5RQDvrKkjuLkhzUcbOLwEkNF8/+pp17tS0JghzEvAPNRg+5aG1/N2ydixq8Lk3dOlg==",
    ),
)

# dvc-render fills these three placeholders; the template leaves out {scripts} (the CDN tags)
PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>tinyactions plots</title>
%(libraries)s
    <script>
        // every plot as SVG: sharp when zoomed, and readable from the page by a headless check
        (function () {
            const embed = window.vegaEmbed;
            window.vegaEmbed = (el, spec, opt) => embed(el, spec, Object.assign({renderer: "svg"}, opt));
        })();
    </script>
    <style>
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


class PlotsPageError(RuntimeError):
    """A library that cannot be fetched or does not match its pin, or a page whose plots did not draw."""


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinyactions" / "npm"


def _checked(lib: Library, data: bytes) -> bool:
    algorithm, _, digest = lib.integrity.partition("-")
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == digest


def tarball(lib: Library, cache: Path | None = None) -> bytes:
    """The package's tarball from the cache or the npm registry (``npm_config_registry`` for a mirror),
    checked against its pinned integrity."""
    cache = cache or cache_dir()
    path = cache / f"{lib.name}-{lib.version}.tgz"
    if path.is_file() and path.stat().st_size <= MAX_TARBALL:
        data = path.read_bytes()
        if _checked(lib, data):
            return data
    registry = os.environ.get("npm_config_registry", REGISTRY).rstrip("/")
    url = f"{registry}/{lib.name}/-/{lib.name}-{lib.version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read(MAX_TARBALL + 1)
    except OSError as e:
        raise PlotsPageError(f"{url}: {e}") from None
    if len(data) > MAX_TARBALL or not _checked(lib, data):
        raise PlotsPageError(f"{url}: does not match the pinned {lib.integrity[:20]}...")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return data


def library_source(lib: Library, cache: Path | None = None) -> str:
    with tarfile.open(fileobj=io.BytesIO(tarball(lib, cache)), mode="r:gz") as archive:
        member = archive.extractfile(f"package/{lib.file}")
        if member is None:
            raise PlotsPageError(f"{lib.name}@{lib.version}: no {lib.file} in its package")
        return member.read().decode("utf-8")


def page_header() -> str:
    """The template's first line: what it was made from (the page and the pinned libraries)."""
    made_of = PAGE + "".join(f"{lib.name}@{lib.version}:{lib.integrity}" for lib in LIBRARIES)
    return f"<!-- tinyactions plots page {hashlib.sha256(made_of.encode()).hexdigest()[:16]} -->\n"


def page_template(cache: Path | None = None) -> str:
    blocks = []
    for lib in LIBRARIES:
        source = library_source(lib, cache)
        # inline, a script ends at "</script"; dvc-render replaces "{scripts}", "{plot_divs}", "{refresh_tag}"
        if "</script" in source.lower() or re.search(r"\{(scripts|plot_divs|refresh_tag)\}", source):
            raise PlotsPageError(f"{lib.name}@{lib.version}: cannot be inlined in the page")
        blocks.append(f"    <!-- {lib.name}@{lib.version} ({lib.integrity}) -->\n    <script>{source}</script>")
    return page_header() + PAGE % {"libraries": "\n".join(blocks)}


# DVC's own page, which loads the libraries from its CDN: what the template falls back to, so that
# `dvc plots show` still works (online) where the npm registry could not be reached at setup
ONLINE_PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>tinyactions plots (needs internet: rerun scripts/setup.sh to carry the libraries)</title>
    {scripts}
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def is_current(path: Path = TEMPLATE) -> bool:
    """Whether ``path`` is a template made from this page and these pins (then nothing is fetched)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline() == page_header()
    except (OSError, UnicodeDecodeError):
        return False


def write_template(path: Path = TEMPLATE, cache: Path | None = None, text: str | None = None) -> Path:
    """Write the page template (idempotent: an up-to-date file is left alone)."""
    if text is None and is_current(path):
        return path
    text = page_template(cache) if text is None else text
    if not (path.is_file() and path.read_text(encoding="utf-8") == text):
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return path


# ---- headless rendering ----------------------------------------------------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _PlotReader(HTMLParser):
    """Per plot div of a rendered page: its (first) SVG's place in the text, as HTMLParser positions, and
    the data marks it drew (paths with geometry inside Vega's ``role-mark`` groups; axes, grids and legends
    are not counted)."""

    def __init__(self, ids: list[str]):
        super().__init__(convert_charrefs=True)
        self.ids = set(ids)
        self.stack: list[tuple[str, str | None, bool]] = []
        self.marks = {i: 0 for i in ids}
        self.svgs: dict[str, tuple[tuple[int, int], tuple[int, int] | None]] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        plot, in_mark = (self.stack[-1][1], self.stack[-1][2]) if self.stack else (None, False)
        if a.get("id") in self.ids:
            plot = a["id"]
        in_mark = in_mark or (tag == "g" and "role-mark" in (a.get("class") or "").split())
        if plot is not None:
            if tag == "svg" and plot not in self.svgs:
                self.svgs[plot] = (self.getpos(), None)
            if in_mark and tag == "path" and (a.get("d") or "").strip():
                self.marks[plot] += 1
        if tag not in _VOID:
            self.stack.append((tag, plot, in_mark))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                _, plot, _ = self.stack[i]
                del self.stack[i:]
                outermost = not any(t == "svg" for t, _, _ in self.stack)
                if tag == "svg" and outermost and plot is not None and self.svgs.get(plot, (None, 0))[1] is None:
                    self.svgs[plot] = (self.svgs[plot][0], self.getpos())
                return


def plot_ids(page_source: str) -> list[str]:
    """The plots of a DVC page, in order: dvc-render embeds each with ``vegaEmbed('#<id>', spec)``."""
    return re.findall(r"vegaEmbed\('#([^']+)'", page_source)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser(args: list[str], timeout: float = 180) -> subprocess.CompletedProcess:
    exe = chromium()
    if exe is None:
        raise PlotsPageError("no Chromium found (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="tinyactions-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",  # CI containers run as root
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # nothing leaves the machine: the page must draw from what it carries
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def rendered_dom(page: Path, budget_ms: int = 20000) -> str:
    """The page's DOM once its scripts ran (Chromium's virtual time: no real waiting)."""
    out = _browser([f"--virtual-time-budget={budget_ms}", "--dump-dom", page.resolve().as_uri()])
    if out.returncode != 0 or "<html" not in out.stdout:
        raise PlotsPageError(f"{page}: Chromium could not render it: {out.stderr.strip()[-500:]}")
    return out.stdout


@dataclass
class Plot:
    id: str
    marks: int  # data marks drawn (0: a blank plot)
    svg: str  # "" when no SVG was drawn


def read_plots(page: Path) -> list[Plot]:
    """Every plot of ``page`` as Chromium drew it, offline."""
    ids = plot_ids(page.read_text(encoding="utf-8"))
    dom = rendered_dom(page)
    reader = _PlotReader(ids)
    reader.feed(dom)
    reader.close()
    line_starts = [0] + [m.end() for m in re.finditer("\n", dom)]  # HTMLParser counts lines by "\n" only

    def offset(pos: tuple[int, int]) -> int:
        return line_starts[pos[0] - 1] + pos[1]

    plots = []
    for i in ids:
        start, end = reader.svgs.get(i, (None, None))
        svg = ""
        if end is not None:
            svg = dom[offset(start) : dom.index(">", offset(end)) + 1]
            if "xmlns=" not in svg[: svg.index(">")]:
                svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
        plots.append(Plot(i, reader.marks[i], svg))
    return plots


def svg_size(svg: str) -> tuple[int, int]:
    head = svg[: svg.index(">")]
    w, h = (re.search(rf'\b{k}="([0-9.]+)', head) for k in ("width", "height"))
    size = (float(w.group(1)) if w else 800, float(h.group(1)) if h else 600)
    return tuple(min(max(int(v), 16), 4096) for v in size)  # Chromium waits forever on a 0 x 0 window


def screenshot(source: Path, png: Path, size: tuple[int, int]) -> None:
    out = _browser([f"--window-size={size[0]},{size[1]}", f"--screenshot={png.resolve()}", source.resolve().as_uri()])
    if out.returncode != 0 or not png.is_file():
        raise PlotsPageError(f"{source}: no screenshot: {out.stderr.strip()[-500:]}")


def render(page: Path, out: Path, png: bool = False) -> list[Plot]:
    """Check that every plot of ``page`` drew offline; write each as ``<n>-<id>.svg`` (and ``.png``)
    into ``out`` with an ``index.json`` of {id, marks, svg, png} per plot. Raises naming the plots that
    are blank."""
    plots = read_plots(page)
    if not plots:
        raise PlotsPageError(f"{page}: no plots on the page")
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for n, plot in enumerate(plots):
        stem = f"{n:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', plot.id)[:80]}"
        entry = {"id": plot.id, "marks": plot.marks, "svg": None, "png": None}
        if plot.svg:
            (out / f"{stem}.svg").write_text(plot.svg, encoding="utf-8")
            entry["svg"] = f"{stem}.svg"
            if png and plot.marks:
                screenshot(out / f"{stem}.svg", out / f"{stem}.png", svg_size(plot.svg))
                entry["png"] = f"{stem}.png"
        index.append(entry)
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    blank = [p.id for p in plots if not p.svg or p.marks == 0]
    if blank:
        raise PlotsPageError(f"{page}: {len(blank)} of {len(plots)} plots drew nothing: {', '.join(blank)}")
    return plots


def main(argv: list[str] | None = None, prog: str = "tinyactions plots") -> None:
    ap = argparse.ArgumentParser(prog=prog, description="offline dvc plots pages: the template, and a headless check")
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("template", help="write the page template with the Vega libraries inline")
    t.add_argument("--out", type=Path, default=TEMPLATE, help="the template file to write (default: %(default)s)")
    r = sub.add_parser("render", help="check that every plot of a page drew offline; write each as SVG")
    r.add_argument("page", type=Path, help="the HTML page `dvc plots show` wrote")
    r.add_argument("--out", type=Path, required=True, help="the folder for one SVG (and PNG) per plot")
    r.add_argument("--png", action="store_true", help="also a PNG of each plot (Chromium screenshots)")
    args = ap.parse_args(argv)
    if args.command == "template":
        try:
            write_template(args.out)
        except PlotsPageError as e:
            write_template(args.out, text=ONLINE_PAGE)
            print(f"plots_page: {e}; the plots page loads its libraries from the internet", file=sys.stderr)
    else:
        plots = render(args.page, args.out, png=args.png)
        print(f"plots_page: {len(plots)} plots drew, written to {args.out}")


def command(argv: list[str], prog: str) -> None:
    """``tinyactions plots``: a page that did not draw is one line."""
    try:
        main(argv, prog)
    except PlotsPageError as e:
        sys.exit(f"plots: {e}")


if __name__ == "__main__":
    command(sys.argv[1:], "python -m tinyactions.app.plots_page")
