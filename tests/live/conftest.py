"""Live tests launch real guests/containers: every test here is marked `live`."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "/tests/live/" in str(item.fspath):
            item.add_marker(pytest.mark.live)


@pytest.fixture(scope="session")
def guest():
    from vmscope.guest.build import ensure_guest

    try:
        return ensure_guest()
    except Exception as exc:  # no apt / no busybox-static: the live tests cannot run here
        pytest.skip(f"shared guest cannot be built here: {exc}")
