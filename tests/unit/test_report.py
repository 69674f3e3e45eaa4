"""The report built from synthetic stored runs: sections, escaping, TCG labels, exports, partial benches."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import report_fakes as rf

import vmscope.report.data as report_data
from vmscope.errors import UserError
from vmscope.evidence import load_all
from vmscope.report import build_report, collect
from vmscope.report.exports import cell, md
from vmscope.report.html import SECTION_IDS, ReportPaths, safe_url


@pytest.fixture(scope="module")
def evil_evidence() -> pytest.MonkeyPatch:
    """The evidence base plus one hostile published record (script tags everywhere, javascript: URL)."""
    mp = pytest.MonkeyPatch()
    published = load_all() + [rf.evil_published()]
    mp.setattr(report_data, "load_all", lambda: list(published))
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory, evil_evidence: pytest.MonkeyPatch) -> ReportPaths:
    tmp = tmp_path_factory.mktemp("report")
    db = rf.make_db(tmp / "results.sqlite")
    return build_report(tmp / "out", db)


@pytest.fixture(scope="module")
def html(full: ReportPaths) -> str:
    return full.index_html.read_text(encoding="utf-8")


def test_every_section_and_anchor(html: str) -> None:
    for sid in SECTION_IDS:
        assert f'<section id="{sid}"' in html
        assert f'href="#{sid}"' in html
    for bench in ("startup", "memory", "isolation", "scale"):
        for part in ("live", "literature", "vs"):
            assert f'id="{bench}-{part}"' in html
    assert "Not measured" not in html


def test_live_figures_and_forest_plots_are_inline(html: str) -> None:
    for pid in ("plot-startup-cdf", "plot-startup-phases", "plot-memory", "plot-isolation", "plot-concurrency",
                "plot-density"):
        assert f'id="{pid}"' in html
    assert 'id="forest-vmm_start_to_guest_init"' in html
    srcs = re.findall(r'<img src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    # offline: nothing is fetched from anywhere
    assert not re.search(r'(src|href)="(https?:)?//', html.replace('href="https://', ""))
    assert "<link" not in html


def test_hostile_text_is_escaped_everywhere(html: str, full: ReportPaths) -> None:
    assert rf.EVIL not in html.replace("<script>" + "\n", "")  # only our own script tag is a tag
    assert html.count("<script") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html
    # the hostile published record is listed under a claim, as text, and not linked
    assert "Fast VMs &lt;script&gt;" in html
    assert "<script>" not in full.markdown.read_text()
    assert md(f"a|b {rf.EVIL}") == "a\\|b &lt;script&gt;alert(1)&lt;/script&gt;"
    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and cell(-3) == -3


def test_markdown_cells_carry_no_links_images_or_cell_breaks() -> None:
    assert md("![x](https://t.example/p.png)") == "!\\[x\\](https://t.example/p.png)"
    assert md("a\\|b") == "a\\\\\\|b"  # a backslash in the text cannot un-escape the pipe


def test_tcg_is_labeled_and_never_shown_as_kvm(html: str, full: ReportPaths) -> None:
    assert "software emulation" in html
    assert html.count('class="badge tcg"') >= 6
    # every comparison row of a TCG platform carries the caveat
    for row in re.findall(r'<tr class="tcg-row">(.*?)</tr>', html, flags=re.S):
        assert "TCG" in row
    with full.csv_files[2].open() as f:  # comparison.csv
        rows = list(csv.DictReader(f))
    tcg = [r for r in rows if r["accel"] == "tcg"]
    assert tcg and all("not like for like" in r["caveat"] for r in tcg)
    assert all(r["accel"] != "kvm" for r in rows if r["platform"].startswith("qemu"))
    # live TCG figures are pooled in groups of their own for rankings
    assert "[tcg]" in html


def test_summary_marks_tcg_platforms(html: str) -> None:
    summary = html.split('<section id="summary">', 1)[1].split("</section>", 1)[0]
    assert 'qemu-q35 <span class="badge tcg"' in summary
    assert 'runc <span class="badge' not in summary


def test_comparison_pairs_live_with_literature_of_the_same_class(full: ReportPaths) -> None:
    data = full.data
    assert data is not None
    c = next(c for c in data.comparisons if c.platform == "qemu-q35" and c.family == "vmm_start_to_guest_init")
    assert c.literature is not None and c.literature.group == "traditional_vm"
    assert c.accel == "tcg" and c.caveat


def test_claims_link_sources_only_over_http(html: str) -> None:
    assert 'id="claim-microvm-start-under-125ms"' in html
    hrefs = re.findall(r'<a href="([^"#]*)"', html)
    external = [h for h in hrefs if "://" in h]
    assert external and all(h.startswith(("http://", "https://")) for h in external)


def test_methodology_has_host_guest_hashes_and_version(html: str) -> None:
    assert "Test CPU" in html
    assert "ab" * 16 in html
    assert "vmscope version: " in html
    assert "spawn -&gt; ready" in html


def test_exports_are_written(full: ReportPaths) -> None:
    names = {p.name for p in full.csv_files}
    assert names == {"live_results.csv", "literature.csv", "comparison.csv", "claims.csv"}
    with (full.out_dir / "live_results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["bench"] for r in rows} == {"startup", "memory", "scale", "isolation"}
    assert "## Startup latency" in full.markdown.read_text()
    html = full.index_html.read_text()
    for p in [full.markdown, *full.csv_files]:
        assert f'href="{p.name}"' in html


def test_literature_only_report_without_any_db(tmp_path: Path) -> None:
    paths = build_report(tmp_path / "out", tmp_path / "missing.sqlite")
    html = paths.index_html.read_text()
    assert not (tmp_path / "missing.sqlite").exists()
    assert "literature-only report" in html
    assert html.count("Not measured: run") == 4
    assert 'id="forest-' in html


def test_some_benches_missing(tmp_path: Path) -> None:
    db = rf.make_db(tmp_path / "r.sqlite", benches=("startup",))
    html = build_report(tmp_path / "out", db).index_html.read_text()
    assert 'id="plot-startup-cdf"' in html
    for bench in ("memory", "isolation", "scale"):
        assert f"<code>vmscope bench {bench}</code>" in html


def test_explicit_run_ids_choose_the_run(tmp_path: Path) -> None:
    db = rf.make_db(tmp_path / "r.sqlite", benches=("startup",))
    with pytest.raises(UserError, match="nope"):  # an unknown run id is an error, not silently replaced
        build_report(tmp_path / "out", db, {"startup": "nope"})
    data = collect(db, {"startup": "20250101T000000Z"})  # a unique prefix is enough
    assert data.runs["startup"]["run_id"].startswith("20250101T000000Z")


@pytest.mark.parametrize("url, ok", [("https://example.org/p", True), ("http://x.y", True),
                                     ("javascript:alert(1)", False), ("file:///etc/passwd", False),
                                     ("data:text/html,x", False), ("", False), ("//evil.example", False)])
def test_safe_url(url: str, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok
