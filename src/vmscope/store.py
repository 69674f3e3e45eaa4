"""The results DB: SQLite, schema-versioned, one transaction per run (all or nothing)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vmscope.errors import UserError
from vmscope.model import Record

# Schema versions, upgraded one step at a time by _MIGRATIONS:
#   1 - runs, results, samples, records, artifacts.
SCHEMA_VERSION = 1

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        bench TEXT NOT NULL,
        command TEXT NOT NULL,
        vmscope_version TEXT NOT NULL,
        host_json TEXT NOT NULL,
        guest_json TEXT NOT NULL,
        params_json TEXT NOT NULL
    );
    CREATE TABLE results (
        run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        bench TEXT NOT NULL,
        platform TEXT NOT NULL,
        accel TEXT,
        result_json TEXT NOT NULL
    );
    CREATE TABLE samples (
        run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        bench TEXT NOT NULL,
        platform TEXT NOT NULL,
        accel TEXT,
        trial INTEGER NOT NULL,
        name TEXT NOT NULL,
        value REAL,
        unit TEXT NOT NULL,
        extra_json TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE records (
        run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        record_id TEXT NOT NULL UNIQUE,
        record_json TEXT NOT NULL
    );
    CREATE TABLE artifacts (
        run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
        platform TEXT NOT NULL,
        trial INTEGER,
        kind TEXT NOT NULL,
        path TEXT NOT NULL
    );
    CREATE INDEX samples_run ON samples(run_id, platform);
    CREATE INDEX results_run ON results(run_id);
    """,
}


def default_db_path() -> Path:
    from vmscope.paths import data_dir

    return data_dir() / "results.sqlite"


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass
class Sample:
    platform: str
    accel: str | None
    trial: int
    name: str
    value: float | None
    unit: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """Everything one bench invocation produced; saved in one transaction."""

    run_id: str
    bench: str
    command: str
    vmscope_version: str
    host: dict[str, Any]
    guest: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    artifacts: list[tuple[str, int | None, str, str]] = field(default_factory=list)  # platform, trial, kind, path
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class ResultsDB:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        conn = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException as exc:
            if conn is not None:
                conn.close()  # a refused DB (newer schema, read-only) must not keep its handle open
            if not isinstance(exc, (sqlite3.Error, OSError)):
                raise
            raise UserError(
                f"cannot open the results DB {self.path}: {exc}",
                hint="choose a writable path with --db PATH (or fix the permissions / free disk space)",
            ) from exc

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise UserError(
                f"results DB {self.path} has schema version {version}, newer than this vmscope ({SCHEMA_VERSION})",
                hint="upgrade vmscope, or use another --db",
            )
        for v in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx():
                self._conn.executescript("BEGIN;" + _MIGRATIONS[v] + f"PRAGMA user_version = {v};")
        # a DB we cannot write to is an error now, not after a 10-minute benchmark
        with self._tx():
            self._conn.execute("CREATE TABLE IF NOT EXISTS _probe (x)")

    @contextmanager
    def _tx(self) -> Iterator[None]:
        in_tx = self._conn.in_transaction
        if not in_tx:
            self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        else:
            if self._conn.in_transaction:
                self._conn.execute("COMMIT")

    def save_run(self, run: Run) -> None:
        """Write a whole run atomically: either everything of it is stored, or nothing."""
        try:
            with self._tx():
                c = self._conn
                c.execute(
                    "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?)",
                    (run.run_id, run.created_at, run.bench, run.command, run.vmscope_version,
                     json.dumps(run.host), json.dumps(run.guest), json.dumps(run.params)),
                )
                c.executemany(
                    "INSERT INTO results VALUES (?,?,?,?,?)",
                    [(run.run_id, run.bench, r["platform"], r.get("accel"), json.dumps(r)) for r in run.results],
                )
                c.executemany(
                    "INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?)",
                    [(run.run_id, run.bench, s.platform, s.accel, s.trial, s.name, s.value, s.unit,
                      json.dumps(s.extra)) for s in run.samples],
                )
                c.executemany(
                    "INSERT INTO records VALUES (?,?,?)",
                    [(run.run_id, r.id, r.model_dump_json()) for r in run.records],
                )
                c.executemany(
                    "INSERT INTO artifacts VALUES (?,?,?,?,?)",
                    [(run.run_id, p, t, k, path) for p, t, k, path in run.artifacts],
                )
        except sqlite3.Error as exc:
            raise UserError(
                f"could not store run {run.run_id} in {self.path}: {exc}; nothing of this run was stored",
                hint="free disk space or choose another --db; earlier runs are untouched",
            ) from exc

    # -- reading ------------------------------------------------------------------------------
    def list_runs(self) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT r.run_id, r.created_at, r.bench, r.command, r.vmscope_version, "
            "(SELECT group_concat(DISTINCT platform) FROM results WHERE run_id = r.run_id), "
            "(SELECT count(*) FROM samples WHERE run_id = r.run_id) "
            "FROM runs r ORDER BY r.created_at, r.run_id"
        ).fetchall()
        keys = ["run_id", "created_at", "bench", "command", "vmscope_version", "platforms", "n_samples"]
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def resolve_run(self, run_id: str | None) -> str:
        """A run id, a unique prefix of one, or None/'latest' for the newest run."""
        if run_id in (None, "latest"):
            row = self._conn.execute("SELECT run_id FROM runs ORDER BY created_at DESC, run_id DESC LIMIT 1").fetchone()
            if row is None:
                raise UserError(f"no runs stored in {self.path}", hint="run `vmscope bench startup` first")
            return row[0]
        rows = self._conn.execute("SELECT run_id FROM runs WHERE run_id LIKE ?", (run_id + "%",)).fetchall()
        if len(rows) != 1:
            what = "no run" if not rows else f"{len(rows)} runs"
            raise UserError(f"{what} matching {run_id!r} in {self.path}", hint="see `vmscope results list`")
        return rows[0][0]

    def get_run(self, run_id: str | None) -> dict[str, Any]:
        rid = self.resolve_run(run_id)
        cur = self._conn.execute("SELECT * FROM runs WHERE run_id = ?", (rid,))
        run = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
        for k in ("host_json", "guest_json", "params_json"):
            run[k.removesuffix("_json")] = json.loads(run.pop(k))
        run["results"] = [json.loads(r) for (r,) in self._conn.execute(
            "SELECT result_json FROM results WHERE run_id = ? ORDER BY rowid", (rid,))]
        rows = self._conn.execute(
            "SELECT platform, trial, kind, path FROM artifacts WHERE run_id = ? ORDER BY rowid", (rid,))
        run["artifacts"] = [dict(zip(("platform", "trial", "kind", "path"), a, strict=True)) for a in rows]
        return run

    def samples(self, run_id: str | None = None) -> list[dict[str, Any]]:
        q = ("SELECT s.run_id, s.bench, s.platform, s.accel, s.trial, s.name, s.value, s.unit, s.extra_json, "
             "r.vmscope_version, r.host_json, r.guest_json FROM samples s JOIN runs r USING (run_id)")
        args: tuple = ()
        if run_id is not None:
            q += " WHERE s.run_id = ?"
            args = (self.resolve_run(run_id),)
        out = []
        for row in self._conn.execute(q + " ORDER BY s.rowid", args):
            *head, extra, ver, host, guest = row
            d = dict(zip(("run_id", "bench", "platform", "accel", "trial", "name", "value", "unit"), head, strict=True))
            d["extra"] = json.loads(extra)
            d["vmscope_version"] = ver
            h = json.loads(host)
            d["host"] = f"{h.get('hostname')} / {h.get('cpu_model')} / {h.get('kernel')}"
            d["guest_hashes"] = json.loads(guest).get("hashes", {})
            out.append(d)
        return out

    def records(self, run_id: str | None = None) -> list[Record]:
        if run_id is None:
            rows = self._conn.execute("SELECT record_json FROM records ORDER BY rowid")
        else:
            rows = self._conn.execute("SELECT record_json FROM records WHERE run_id = ? ORDER BY rowid",
                                      (self.resolve_run(run_id),))
        return [Record.model_validate_json(r) for (r,) in rows]


def load_live_records(db_path: Path | None = None) -> list[Record]:
    """Every live record stored in the results DB (empty when there is no DB yet)."""
    path = Path(db_path) if db_path is not None else default_db_path()
    if not path.exists():
        return []
    with ResultsDB(path) as db:
        return db.records()


def export(db: ResultsDB, fmt: str, run_id: str | None = None, what: str = "samples") -> str:
    """Samples (or evidence records) as JSON or CSV text."""
    if fmt not in ("json", "csv"):
        raise UserError(f"unknown export format {fmt!r}", hint="use --format json or --format csv")
    if what == "records":
        rows: list[dict[str, Any]] = [r.model_dump(mode="json") for r in db.records(run_id)]
    else:
        rows = db.samples(run_id)
    if fmt == "json":
        return json.dumps(rows, indent=1)
    buf = io.StringIO()
    if rows:
        flat = [{k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in r.items()} for r in rows]
        w = csv.DictWriter(buf, fieldnames=list(flat[0]))
        w.writeheader()
        w.writerows(flat)
    return buf.getvalue()
