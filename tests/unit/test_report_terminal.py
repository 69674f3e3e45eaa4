"""The terminal summary and `vmscope report` on the command line."""

from __future__ import annotations

from pathlib import Path

import report_fakes as rf
from rich.console import Console

from vmscope.cli import main
from vmscope.report import collect, terminal_summary


def _printed(db: Path) -> str:
    con = Console(record=True, width=200, color_system=None)
    terminal_summary(collect(db), con)
    return con.export_text()


def test_summary_labels_tcg_and_compares_with_literature(tmp_path: Path) -> None:
    text = _printed(rf.make_db(tmp_path / "r.sqlite", benches=("startup", "memory")))
    assert "software emulation" in text
    assert "TCG" in text and "qemu-q35" in text
    assert "this host vs the literature" in text
    assert "TCG vs hardware: not like for like" in text
    assert "Isolation: not measured (run `vmscope bench isolation`)" in text
    assert "Claims" in text and "ranking serverless" in text


def test_summary_without_live_results(tmp_path: Path) -> None:
    text = _printed(tmp_path / "none.sqlite")
    assert text.count("not measured") == 4
    assert "software emulation" not in text


def test_report_command(tmp_path: Path, capsys) -> None:
    db = rf.make_db(tmp_path / "r.sqlite", benches=("isolation",))
    out = tmp_path / "rep"
    assert main(["report", "--from-db", "--db", str(db), "--out", str(out), "--quiet"]) == 0
    assert (out / "index.html").exists() and (out / "report.md").exists() and (out / "claims.csv").exists()
    assert str(out / "index.html") in capsys.readouterr().err


def test_report_command_unwritable_out(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["report", "--db", str(tmp_path / "none.sqlite"), "--out", str(blocker / "sub"), "-q"]) == 1
    assert "cannot create the report directory" in capsys.readouterr().err
