"""Where evidence comes from: the shipped base (package data, read-only) and the user's store.

The user store is `$VMSCOPE_DATA_DIR/evidence/` if that variable is set, else
`$XDG_DATA_HOME/vmscope/evidence/` (default `~/.local/share/vmscope/evidence/`). Imports are
appended to `imported.jsonl` there; the shipped files are never written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from vmscope.errors import UserError
from vmscope.evidence.schema import ParseResult, Problem, content_key, parse_file, parse_text
from vmscope.model import Record

SHIPPED_RECORDS = "records.jsonl"
SHIPPED_SOURCES = "sources.json"
USER_FILE = "imported.jsonl"


def data_dir() -> Path:
    override = os.environ.get("VMSCOPE_DATA_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "vmscope"


def user_store_dir() -> Path:
    return data_dir() / "evidence"


def user_store_file() -> Path:
    return user_store_dir() / USER_FILE


def _shipped_text(name: str) -> str:
    return resources.files("vmscope.evidence").joinpath("data", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _shipped() -> ParseResult:
    return parse_text(_shipped_text(SHIPPED_RECORDS), f"<shipped>/{SHIPPED_RECORDS}")


def validate_shipped() -> ParseResult:
    return _shipped()


def load_shipped() -> list[Record]:
    """The curated published records. A broken shipped file is a bug in vmscope, said plainly."""
    result = _shipped()
    if result.problems:
        raise UserError(
            "the shipped evidence base does not validate:\n" + "\n".join(str(p) for p in result.problems),
            hint="reinstall vmscope; this is a packaging bug, please report it",
        )
    return list(result.records)


def load_sources() -> dict[str, dict[str, Any]]:
    return json.loads(_shipped_text(SHIPPED_SOURCES))


def load_user() -> list[Record]:
    path = user_store_file()
    if not path.exists():
        return []
    result = parse_file(path)
    if result.problems:
        raise UserError(
            f"the user evidence store {path} has invalid lines:\n" + "\n".join(str(p) for p in result.problems),
            hint=f"fix or delete the listed lines in {path}",
        )
    return result.records


def load_all() -> list[Record]:
    """Shipped records first, then the user's imported ones."""
    return load_shipped() + load_user()


@dataclass(frozen=True)
class ImportResult:
    added: list[Record]
    duplicates: list[str]  # ids of input records already present (same content)
    store: Path


def import_file(path: Path) -> ImportResult:
    """Validate `path` (JSONL or CSV), then append the records not already known to the user store.

    Nothing is written unless the whole file validates. Records whose content (everything but
    the id) matches a known record are skipped; an id clash with different content is an error.
    """
    if not path.exists():
        raise UserError(f"no such file: {path}")
    parsed = parse_file(path)
    if parsed.problems:
        raise UserError(
            f"{len(parsed.problems)} problem(s) in {path}:\n" + "\n".join(str(p) for p in parsed.problems),
            hint="fix the listed lines and import again; nothing was imported",
        )
    known = load_all()
    by_content = {content_key(r): r.id for r in known}
    known_ids = {r.id for r in known}
    added: list[Record] = []
    duplicates: list[str] = []
    clashes: list[Problem] = []
    for rec, line in zip(parsed.records, parsed.lines, strict=True):
        key = content_key(rec)
        if key in by_content:
            duplicates.append(rec.id)
            continue
        if rec.id in known_ids:
            clashes.append(Problem(str(path), line, f"id {rec.id!r} is already used by a different record"))
            continue
        by_content[key] = rec.id
        known_ids.add(rec.id)
        added.append(rec)
    if clashes:
        raise UserError(
            "\n".join(str(p) for p in clashes),
            hint="give the new records ids of their own; nothing was imported",
        )
    if added:
        store = user_store_file()
        store.parent.mkdir(parents=True, exist_ok=True)
        with store.open("a", encoding="utf-8") as fh:
            for rec in added:
                fh.write(rec.model_dump_json(exclude_none=False) + "\n")
    return ImportResult(added=added, duplicates=duplicates, store=user_store_file())
