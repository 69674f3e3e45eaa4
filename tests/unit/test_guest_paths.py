"""XDG cache/data directories and their overrides."""

from __future__ import annotations

import pytest

from vmscope import paths
from vmscope.errors import UserError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in ("VMSCOPE_CACHE_DIR", "VMSCOPE_DATA_DIR", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_defaults_under_home(tmp_path) -> None:
    assert paths.cache_dir() == tmp_path / "home" / ".cache" / "vmscope"
    assert paths.data_dir() == tmp_path / "home" / ".local" / "share" / "vmscope"
    assert paths.cache_dir().is_dir() and paths.data_dir().is_dir()


def test_xdg_and_overrides(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xc"))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert paths.cache_dir() == tmp_path / "xc" / "vmscope"
    assert paths.data_dir() == tmp_path / "home" / ".local" / "share" / "vmscope"
    monkeypatch.setenv("VMSCOPE_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("VMSCOPE_DATA_DIR", str(tmp_path / "d"))
    assert paths.cache_dir() == tmp_path / "c"
    assert paths.data_dir() == tmp_path / "d"


def test_unwritable_dir_is_a_user_error(monkeypatch, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("VMSCOPE_CACHE_DIR", str(blocker / "sub"))
    with pytest.raises(UserError, match="cannot create"):
        paths.cache_dir()
