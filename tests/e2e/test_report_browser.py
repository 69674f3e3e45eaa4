"""The report in a real browser (Debian `chromium`, headless): every section and figure renders, no console errors.

Chromium's own command line is enough: `--dump-dom` gives the DOM after the load event (the page's
script records on <body> how many figures decoded), `--enable-logging=stderr` prints every console
message (errors, uncaught exceptions, CSP refusals) as a CONSOLE line, `--screenshot` keeps a picture.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import report_fakes as rf

import vmscope.report.data as report_data
from vmscope.evidence import load_all
from vmscope.report import build_report
from vmscope.report.html import SECTION_IDS

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "artifacts" / "report-screenshot.png"


def chromium(profile: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    exe = str(CHROMIUM) if CHROMIUM.exists() else str(shutil.which("chromium"))
    profile.mkdir(parents=True, exist_ok=True)
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    mp = pytest.MonkeyPatch()
    published = load_all() + [rf.evil_published()]  # hostile evidence text must stay inert in the browser too
    mp.setattr(report_data, "load_all", lambda: list(published))
    try:
        tmp = tmp_path_factory.mktemp("e2e")
        full = build_report(tmp / "full", rf.make_db(tmp / "full.sqlite"))
        lit = build_report(tmp / "lit", tmp / "none.sqlite")
    finally:
        mp.undo()
    return {"full": full.index_html, "literature-only": lit.index_html}


@pytest.mark.parametrize("which", ["full", "literature-only"])
def test_every_section_and_figure_renders_without_console_errors(
    which: str, reports: dict[str, Path], tmp_path: Path
) -> None:
    index = reports[which]
    expected_figures = index.read_text().count('<figure class="plot"')
    assert expected_figures > 0
    res = chromium(tmp_path / "profile", "--dump-dom", index.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    for sid in SECTION_IDS:
        assert re.search(rf'<section id="{sid}"', dom), f"section {sid} missing from the rendered DOM"
    body = re.search(r"<body([^>]*)>", dom)
    assert body, "no <body> in the DOM"
    total = re.search(r'data-plots-total="(\d+)"', body.group(1))
    rendered = re.search(r'data-plots-rendered="(\d+)"', body.group(1))
    assert total and rendered, "the page's load check did not run (script blocked or failed?)"
    assert int(total.group(1)) == expected_figures
    assert int(rendered.group(1)) == expected_figures, "some figures did not decode"
    assert dom.count("<img") >= expected_figures
    assert not console_errors(res.stderr), console_errors(res.stderr)
    assert "alert(1)" not in dom.replace("&lt;script&gt;alert(1)&lt;/script&gt;", "")


def test_screenshot_artifact(reports: dict[str, Path], tmp_path: Path) -> None:
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    res = chromium(tmp_path / "profile", "--hide-scrollbars", "--window-size=1280,3200",
                   f"--screenshot={SCREENSHOT}", reports["full"].as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    assert SCREENSHOT.exists() and SCREENSHOT.stat().st_size > 50_000
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not console_errors(res.stderr), console_errors(res.stderr)
    print(f"report screenshot: {SCREENSHOT}")
