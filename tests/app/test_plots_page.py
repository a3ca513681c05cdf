"""`dvc plots show` opens without internet: the project's page template carries the Vega libraries inline
(pinned, checked), and headless Chromium, cut off from the network, draws every plot of the demo."""

import base64
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tinyactions.app import plots_page

ROOT = Path(__file__).resolve().parents[2]
# .ci/run installs Chromium and sets this: there a missing browser is a failure, not a skip
REQUIRE_CHROMIUM = os.environ.get("TINYACTIONS_REQUIRE_CHROMIUM") == "1"
needs_chromium = pytest.mark.skipif(
    plots_page.chromium() is None and not REQUIRE_CHROMIUM, reason="no Chromium (Debian: apt-get install chromium)"
)


def fake_package(name: str, files: dict[str, bytes]) -> tuple[bytes, str]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(f"package/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    return data, "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_a_library_is_used_only_when_it_matches_its_pin(tmp_path, monkeypatch):
    data, integrity = fake_package("lib", {"build/lib.min.js": b"window.lib = 1;"})
    lib = plots_page.Library("lib", "1.0.0", "build/lib.min.js", integrity)
    (tmp_path / "lib-1.0.0.tgz").write_bytes(data)
    assert plots_page.library_source(lib, tmp_path) == "window.lib = 1;"
    # a cached tarball that does not match is fetched again; the registry's must match too
    (tmp_path / "lib-1.0.0.tgz").write_bytes(data[:-1] + b"x")
    served = {"n": 0}

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def urlopen(url, timeout):
        served["n"] += 1
        assert url == "https://registry.example/lib/-/lib-1.0.0.tgz"
        return Response(data)

    monkeypatch.setenv("npm_config_registry", "https://registry.example/")
    monkeypatch.setattr(plots_page.urllib.request, "urlopen", urlopen)
    assert plots_page.library_source(lib, tmp_path) == "window.lib = 1;" and served["n"] == 1
    assert (tmp_path / "lib-1.0.0.tgz").read_bytes() == data  # the cache was repaired
    bad = plots_page.Library("lib", "1.0.0", "build/lib.min.js", "sha512-" + base64.b64encode(b"0" * 64).decode())
    (tmp_path / "lib-1.0.0.tgz").unlink()
    with pytest.raises(plots_page.PlotsPageError, match="does not match the pinned"):
        plots_page.library_source(bad, tmp_path)


def test_a_library_that_would_end_its_script_early_is_refused(tmp_path, monkeypatch):
    data, integrity = fake_package("lib", {"build/lib.min.js": b'var s = "</script><script>alert(1)";'})
    (tmp_path / "lib-1.0.0.tgz").write_bytes(data)
    monkeypatch.setattr(plots_page, "LIBRARIES", (plots_page.Library("lib", "1.0.0", "build/lib.min.js", integrity),))
    with pytest.raises(plots_page.PlotsPageError, match="cannot be inlined"):
        plots_page.page_template(tmp_path)


def test_the_project_template_carries_the_pinned_libraries_and_no_cdn():
    # scripts/setup.sh writes it and names it in this checkout's .dvc/config.local (a clone that has not
    # run setup keeps DVC's own page instead of a missing file)
    assert "html_template = offline_plots.html" in (ROOT / ".dvc/config.local").read_text()
    assert "html_template" not in (ROOT / ".dvc/config").read_text()
    page = plots_page.TEMPLATE.read_text(encoding="utf-8")
    assert page == plots_page.page_template() and plots_page.is_current()  # up to date with the page and the pins
    assert "{plot_divs}" in page and "{scripts}" not in page and "<script src" not in page
    for lib in plots_page.LIBRARIES:
        assert f"<!-- {lib.name}@{lib.version} ({lib.integrity}) -->" in page
    # the versions dvc-render would load from its CDN, so specs render as DVC meant them
    from dvc_render.vega import VegaRenderer

    for lib in plots_page.LIBRARIES:
        assert f'npm/{lib.name}@{lib.version}"' in VegaRenderer.SCRIPTS


def dvc_plots(args: list[str], out: Path) -> Path:
    run = subprocess.run(
        [sys.executable, "-m", "dvc", "plots", *args, "-o", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return out / "index.html"


@needs_chromium
def test_dvc_plots_show_draws_every_plot_offline(tmp_path):
    page = dvc_plots(["show"], tmp_path / "show")
    expected = plots_page.plot_ids(page.read_text(encoding="utf-8"))
    # the demo's plots: class frequency, SR per clip and its fit, 5 curves per trained run, per-class F1
    assert len(expected) >= 20 and "metrics_class_frequency_csv" in expected
    plots = plots_page.render(page, tmp_path / "drawn", png=True)
    assert [p.id for p in plots] == expected
    assert all(p.marks > 0 and "<path" in p.svg for p in plots)
    frequency = next(p for p in plots if p.id == "metrics_class_frequency_csv")
    assert frequency.marks == 26  # one bar per class
    png = (tmp_path / "drawn" / "00-metrics_class_frequency_csv.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000  # a drawn chart, not an empty page


@needs_chromium
def test_dvc_s_own_page_draws_nothing_offline(tmp_path):
    # the check can fail: DVC's default page, libraries from its CDN, in the same offline browser
    (tmp_path / "cdn.html").write_text(plots_page.ONLINE_PAGE)
    page = dvc_plots(
        ["show", "--html-template", str(tmp_path / "cdn.html"), "metrics/class_frequency.csv"], tmp_path / "cdn"
    )
    with pytest.raises(plots_page.PlotsPageError, match="1 of 1 plots drew nothing: metrics_class_frequency_csv"):
        plots_page.render(page, tmp_path / "blank")


@needs_chromium
def test_dvc_plots_diff_draws_offline(tmp_path):
    page = dvc_plots(["diff", "HEAD", "--targets", "metrics/per_class_f1.csv"], tmp_path / "diff")
    (plot,) = plots_page.render(page, tmp_path / "drawn")
    assert plot.marks >= 26  # per-class bars of the workspace and HEAD


def test_a_current_template_is_kept_without_fetching_and_a_failed_fetch_keeps_it(tmp_path, monkeypatch):
    data, integrity = fake_package("lib", {"build/lib.min.js": b"window.lib = 1;"})
    (tmp_path / "lib-1.0.0.tgz").write_bytes(data)
    monkeypatch.setattr(plots_page, "LIBRARIES", (plots_page.Library("lib", "1.0.0", "build/lib.min.js", integrity),))
    page = tmp_path / "page.html"
    plots_page.write_template(page, cache=tmp_path)
    assert plots_page.is_current(page) and "window.lib = 1;" in page.read_text()

    def offline(lib, cache=None):
        raise plots_page.PlotsPageError("registry.npmjs.org: unreachable")

    monkeypatch.setattr(plots_page, "tarball", offline)
    plots_page.main(["template", "--out", str(page)])  # an offline machine: the carried page stays
    assert plots_page.is_current(page) and "window.lib = 1;" in page.read_text()
    # other pins: the old page is not current; when they cannot be fetched, DVC's online page, said in a line
    monkeypatch.setattr(plots_page, "LIBRARIES", (plots_page.Library("lib", "2.0.0", "build/lib.min.js", integrity),))
    assert not plots_page.is_current(page)
    plots_page.main(["template", "--out", str(page)])
    assert page.read_text() == plots_page.ONLINE_PAGE
