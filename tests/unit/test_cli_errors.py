"""Bad input gets a clear message and a non-zero exit, through the real CLI entry point."""

from vmscope.cli import main


def test_unknown_platform(capsys, tmp_db):
    rc = main(["bench", "startup", "--platform", "nosuch", "--db", str(tmp_db)])
    assert rc == 1
    assert "unknown platform 'nosuch'" in capsys.readouterr().err


def test_unwritable_db(capsys):
    rc = main(["bench", "startup", "--platform", "process", "--db", "/proc/nope/results.sqlite"])
    assert rc == 1
    assert "cannot open the results DB" in capsys.readouterr().err


def test_bad_accel(capsys, tmp_db):
    rc = main(["bench", "startup", "--accel", "xen", "--db", str(tmp_db)])
    assert rc == 1
    assert "unknown accelerator" in capsys.readouterr().err


def test_bad_trials(capsys, tmp_db):
    assert main(["bench", "startup", "--platform", "process", "--trials", "0", "--db", str(tmp_db)]) == 1


def test_usage_error_exit_code(capsys):
    assert main(["bench", "startup", "--no-such-flag"]) == 2


def test_results_on_empty_db(capsys, tmp_db):
    assert main(["results", "show", "--db", str(tmp_db)]) == 1
    assert "no runs stored" in capsys.readouterr().err


def test_run_splits_platforms_by_the_doctor_rows_without_probing_again():
    import pytest

    from vmscope.cli import run
    from vmscope.errors import UserError

    doctor = {"platforms": [{"id": "process", "usable": True, "reason": "always"},
                            {"id": "runc", "usable": False, "reason": "no runc"}]}
    assert run._usable("process", doctor) == (["process"], {})
    with pytest.raises(UserError, match="runc: no runc"):
        run._usable("process,runc", doctor)
