"""Evidence base: shipped records validate, broken files say file:line, imports de-duplicate."""

import json
from pathlib import Path

import pytest

from vmscope import evidence
from vmscope.cli import main
from vmscope.errors import UserError

FIXTURES = Path(__file__).parent / "fixtures" / "evidence"


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VMSCOPE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_every_shipped_record_validates() -> None:
    result = evidence.validate_shipped()
    assert result.problems == []
    assert len(result.records) == 383
    assert len({r.id for r in result.records}) == len(result.records)


def test_shipped_sources_cover_every_record() -> None:
    sources = evidence.load_sources()
    keys = {r.source.key for r in evidence.load_shipped()}
    assert keys <= set(sources)


def test_malformed_file_reports_file_and_line() -> None:
    path = FIXTURES / "malformed.jsonl"
    result = evidence.parse_file(path)
    lines = {p.line for p in result.problems}
    assert lines == {2, 3, 5}
    texts = [str(p) for p in result.problems]
    assert texts[0].startswith(f"{path}:2: not valid JSON")
    assert "unknown unit 'furlongs'" in texts[1]
    assert "low (10.0) is greater than high (5.0)" in texts[2]


def test_validate_cli_fails_on_malformed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "validate", str(FIXTURES / "malformed.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "malformed.jsonl:3:" in err
    assert main(["evidence", "validate"]) == 0


def test_import_deduplicates_by_content(_data_dir: Path) -> None:
    result = evidence.import_file(FIXTURES / "new.csv")
    assert [r.id for r in result.added] == ["csv-1"]
    assert result.store.is_relative_to(_data_dir)
    again = evidence.import_file(FIXTURES / "new.csv")
    assert again.added == [] and again.duplicates == ["csv-1"]
    # the first two shipped records, re-imported, are already known
    shipped_copy = evidence.import_file(FIXTURES / "good.jsonl")
    assert shipped_copy.added == [] and len(shipped_copy.duplicates) == 2
    assert any(r.id == "csv-1" for r in evidence.load_all())


def test_import_refuses_invalid_file_and_writes_nothing() -> None:
    with pytest.raises(UserError) as exc:
        evidence.import_file(FIXTURES / "malformed.jsonl")
    assert "malformed.jsonl:2:" in str(exc.value)
    assert not evidence.user_store_file().exists()


def test_import_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "import", "--json", str(FIXTURES / "new.csv")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["added"] == ["csv-1"]


def test_show_and_list_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "show", "--json", "agache2020firecracker-10"]) == 0
    assert json.loads(capsys.readouterr().out)["platform"] == "firecracker"
    assert main(["evidence", "show", "no-such-id"]) == 1
    assert main(["evidence", "list", "--json", "--class", "unikernel"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed and all(r["platform_class"] == "unikernel" for r in listed)


def test_unreadable_path_is_a_problem_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "records.jsonl"
    folder.mkdir()
    (problem,) = evidence.parse_file(folder).problems
    assert str(problem).startswith(f"{folder}:1: cannot read")
    assert main(["evidence", "validate", str(folder)]) == 1
    assert main(["evidence", "import", str(folder)]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_list_and_show_print_evidence_text_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers import record

    hostile = record(id="x-1", platform="odd[/]vm", notes="[bold]not bold[/bold]")
    path = tmp_path / "hostile.jsonl"
    path.write_text(hostile.model_dump_json() + "\n")
    evidence.import_file(path)
    capsys.readouterr()
    assert main(["evidence", "list", "--platform", "odd[/]vm"]) == 0
    assert "odd[/]vm" in capsys.readouterr().out
    assert main(["evidence", "show", "x-1"]) == 0
    assert "[bold]not bold[/bold]" in capsys.readouterr().out
