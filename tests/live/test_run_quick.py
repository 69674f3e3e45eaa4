"""`vmscope run --quick` end to end on this machine: every step, the DB and the report."""

from __future__ import annotations

import json

from vmscope.cli import main
from vmscope.store import ResultsDB


def test_run_quick_end_to_end(guest, tmp_path, no_leaks, capsys):
    db = tmp_path / "results.sqlite"
    out = tmp_path / "report"
    rc = main(["run", "--quick", "--db", str(db), "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    summary = json.loads(captured.out)
    steps = {s["name"]: s for s in summary["steps"]}
    assert {"startup", "memory", "isolation", "scale"} <= set(steps)
    assert all(s["error"] is None for s in steps.values()), steps
    with ResultsDB(db) as d:
        benches = {r["bench"] for r in d.list_runs()}
        assert benches == {"startup", "memory", "isolation", "scale"}
        assert all(r.kind == "live" for r in d.records())
    index = (out / "index.html").read_text()
    for section in ("startup", "memory", "isolation", "scale", "claims", "methodology"):
        assert f'id="{section}"' in index
    assert (out / "report.md").exists()
    # a VM measured here under software emulation is labelled as such in the report
    if any(p.startswith("qemu-") for p in summary["platforms"]):
        assert "TCG" in index or "tcg" in index
