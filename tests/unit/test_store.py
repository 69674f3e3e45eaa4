import csv
import io
import json
import os
import sqlite3

import pytest

from vmscope.errors import UserError
from vmscope.measure.records import live_record
from vmscope.model import Metric, Record, Statistic
from vmscope.store import SCHEMA_VERSION, ResultsDB, Run, Sample, export, load_live_records

HOST = {"hostname": "h", "cpu_model": "cpu", "cores": 2, "mem_total_mib": 1024, "kernel": "6.1", "cgroup_mode": "v2"}
GUEST = {"kernel_version": "6.1.0-test", "hashes": {"initramfs": "ab" * 32}}


def make_run(run_id="r1", n=3, dup_record=False) -> Run:
    run = Run(run_id=run_id, bench="startup", command="vmscope bench startup", vmscope_version="0.1",
              host=HOST, guest=GUEST, params={"trials": n})
    samples = [10.0 + i for i in range(n)]
    run.results.append({"platform": "runc", "accel": None, "median_ms": 11.0, "samples_ms": samples})
    run.samples += [Sample("runc", None, i, "spawn_to_ready", v, "ms", {"phases_ms": {}})
                    for i, v in enumerate(samples)]
    rec = live_record(run_id=run_id, index=0, platform="runc", metric=Metric.startup_latency,
                      measure="spawn_to_ready", value=11.0, unit="ms", statistic=Statistic.median,
                      host=HOST, guest=GUEST, n=n, samples=samples)
    run.records.append(rec)
    if dup_record:
        run.records.append(rec)  # same record id twice violates UNIQUE mid-transaction
    return run


def test_roundtrip(tmp_db):
    with ResultsDB(tmp_db) as db:
        db.save_run(make_run())
        runs = db.list_runs()
        assert [r["run_id"] for r in runs] == ["r1"]
        assert runs[0]["n_samples"] == 3
        got = db.get_run("r")
        assert got["results"][0]["median_ms"] == 11.0
        assert got["guest"]["kernel_version"] == "6.1.0-test"
        s = db.samples()
        assert {x["platform"] for x in s} == {"runc"}
        assert s[0]["guest_hashes"]["initramfs"] == "ab" * 32 and s[0]["vmscope_version"] == "0.1"
    recs = load_live_records(tmp_db)
    assert len(recs) == 1 and isinstance(recs[0], Record)
    assert recs[0].kind == "live" and recs[0].samples == [10.0, 11.0, 12.0]


def test_failed_save_leaves_nothing_of_that_run(tmp_db):
    with ResultsDB(tmp_db) as db:
        db.save_run(make_run("good"))
        with pytest.raises(UserError) as e:
            db.save_run(make_run("bad", dup_record=True))
        assert "nothing of this run was stored" in str(e.value)
        assert [r["run_id"] for r in db.list_runs()] == ["good"]
        assert all(s["run_id"] == "good" for s in db.samples())


def test_schema_version_is_recorded_and_newer_db_refused(tmp_db):
    ResultsDB(tmp_db).close()
    conn = sqlite3.connect(tmp_db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(UserError, match="newer"):
        ResultsDB(tmp_db)


def test_a_refused_db_does_not_keep_its_connection_open(tmp_db, monkeypatch):
    ResultsDB(tmp_db).close()
    conn = sqlite3.connect(tmp_db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    opened = []
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(real_connect(*a, **k)) or opened[-1])
    with pytest.raises(UserError, match="newer"):
        ResultsDB(tmp_db)
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        opened[0].execute("SELECT 1")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; covered by the /proc case below")
def test_unwritable_dir_is_a_user_error(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    with pytest.raises(UserError):
        ResultsDB(d / "x.sqlite")


def test_impossible_path_is_a_user_error():
    with pytest.raises(UserError, match="--db"):
        ResultsDB("/proc/vmscope-no/results.sqlite")


def test_export_json_and_csv(tmp_db):
    with ResultsDB(tmp_db) as db:
        db.save_run(make_run())
        rows = json.loads(export(db, "json"))
        assert len(rows) == 3 and rows[0]["name"] == "spawn_to_ready"
        table = list(csv.DictReader(io.StringIO(export(db, "csv"))))
        assert [float(r["value"]) for r in table] == [10.0, 11.0, 12.0]
        recs = json.loads(export(db, "json", what="records"))
        assert recs[0]["kind"] == "live"
        with pytest.raises(UserError):
            export(db, "xml")


def test_unknown_run_id(tmp_db):
    with ResultsDB(tmp_db) as db:
        with pytest.raises(UserError):
            db.get_run("latest")
        db.save_run(make_run())
        with pytest.raises(UserError):
            db.get_run("zzz")


def test_full_disk_loses_nothing_already_stored(tmp_db):
    with ResultsDB(tmp_db) as db:
        db.save_run(make_run("first"))
        # SQLite's page cap makes the file behave like a full disk: the next write fails with SQLITE_FULL
        (pages,) = db._conn.execute("PRAGMA page_count").fetchone()
        db._conn.execute(f"PRAGMA max_page_count = {pages}")
        big = make_run("second", n=2000)
        with pytest.raises(UserError) as e:
            db.save_run(big)
        assert "full" in str(e.value) and "nothing of this run was stored" in str(e.value)
        assert [r["run_id"] for r in db.list_runs()] == ["first"]
        assert len(db.samples()) == 3
