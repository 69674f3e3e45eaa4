"""Parse evidence files (JSONL or CSV) into `Record`s, reporting every problem as `file:line: what`.

A file is read completely before anything is reported, so one run of `vmscope evidence validate`
lists every broken line, not just the first.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vmscope.model import Record

# CSV columns that hold the nested source object, flattened as source_<field>.
_SOURCE_FIELDS = ("key", "authors", "title", "venue", "year", "url")
_NUMERIC_OPTIONAL = ("low", "high", "n", "concurrency")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one line of one file."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class ParseResult:
    records: list[Record] = field(default_factory=list)
    # line number of each record, parallel to `records`
    lines: list[int] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "record"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def _check_duplicate_ids(result: ParseResult, name: str) -> None:
    seen: dict[str, int] = {}
    for rec, line in zip(result.records, result.lines, strict=True):
        if rec.id in seen:
            result.problems.append(Problem(name, line, f"id {rec.id!r} already used on line {seen[rec.id]}"))
        else:
            seen[rec.id] = line


def parse_jsonl(text: str, name: str) -> ParseResult:
    """One JSON object per line; blank lines and lines starting with '#' are skipped."""
    result = ParseResult()
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(name, lineno, f"not valid JSON: {exc.msg} (column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            result.problems.append(Problem(name, lineno, f"expected a JSON object, got {type(obj).__name__}"))
            continue
        _add(result, obj, name, lineno)
    _check_duplicate_ids(result, name)
    return result


def _csv_row_to_obj(row: dict[str, str]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    source: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            raise ValueError("row has more cells than the header")
        key = key.strip()
        value = (value or "").strip()
        if key.startswith("source_") and key.removeprefix("source_") in _SOURCE_FIELDS:
            sub = key.removeprefix("source_")
            source[sub] = (int(value) if value else None) if sub == "year" else value
        elif key in _NUMERIC_OPTIONAL:
            obj[key] = None if value == "" else value
        elif key in ("host", "guest", "samples"):
            obj[key] = json.loads(value) if value else None
        elif value == "" and key in ("accel", "run_id", "vmscope_version"):
            obj[key] = None
        else:
            obj[key] = value
    if source:
        obj["source"] = source
    return obj


def parse_csv(text: str, name: str) -> ParseResult:
    """A header row with the record fields; the source is given as source_key, source_title, ..."""
    result = ParseResult()
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        result.problems.append(Problem(name, 1, "empty CSV file: expected a header row"))
        return result
    for row in reader:
        lineno = reader.line_num
        try:
            obj = _csv_row_to_obj(row)
        except (ValueError, json.JSONDecodeError) as exc:
            result.problems.append(Problem(name, lineno, f"cannot read row: {exc}"))
            continue
        _add(result, obj, name, lineno)
    _check_duplicate_ids(result, name)
    return result


def _add(result: ParseResult, obj: dict[str, Any], name: str, lineno: int) -> None:
    try:
        rec = Record.model_validate(obj)
    except ValidationError as exc:
        result.problems.append(Problem(name, lineno, _describe(exc)))
        return
    result.records.append(rec)
    result.lines.append(lineno)


def parse_text(text: str, name: str) -> ParseResult:
    """Parse by file name: `.csv` is CSV, anything else is JSONL."""
    if name.lower().endswith(".csv"):
        return parse_csv(text, name)
    return parse_jsonl(text, name)


def parse_file(path: Path) -> ParseResult:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return ParseResult(problems=[Problem(str(path), 1, f"not UTF-8 text: {exc.reason}")])
    except OSError as exc:  # a directory, no permission: a problem with the file, like any other
        return ParseResult(problems=[Problem(str(path), 1, f"cannot read: {exc.strerror or exc}")])
    return parse_text(text, str(path))


def content_key(record: Record) -> str:
    """What makes two records the same figure, ignoring their ids (used to de-duplicate imports)."""
    data = record.model_dump(mode="json", exclude={"id"})
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
