"""Isolation facts that must hold on this host: who shares the host kernel, who reaches which syscalls.

One module-scoped measurement (process, bwrap, runc with and without the seccomp profile, gVisor, one
QEMU machine under whatever accelerator works), then one test per fact. Facts and orderings only, never
tuned scores.
"""

from __future__ import annotations

import json

import psutil
import pytest
from conftest import leaks_since, require_root, snapshot

from vmscope.measure.isolation import HostIdentity, KernelKind
from vmscope.measure.isolation_run import TOKEN_DIR, guest_probe, host_baseline, measure_one
from vmscope.platforms import get_driver
from vmscope.platforms.base import Resources

pytestmark = pytest.mark.live
TIMEOUT_S = 120.0
QEMU_CHOICES = ("qemu-microvm", "qemu-q35", "qemu-pc")


@pytest.fixture(scope="module")
def probe_guest(guest):
    path, kind = guest_probe(guest)
    if path is None:
        from vmscope.guest.build import build_guest

        try:
            guest = build_guest()  # the cached guest predates the probe
        except Exception as exc:
            pytest.skip(f"the shared guest has no probe and cannot be rebuilt here: {exc}")
        path, kind = guest_probe(guest)
    if kind != "c":
        pytest.skip("the guest's probe is the shell fallback (no compiler at build): no syscall sweep")
    return guest


@pytest.fixture(scope="module")
def measured(probe_guest):
    require_root()
    plan: list[tuple[str, str, bool]] = [("process", "process", True), ("bwrap", "bwrap", True),
                                         ("runc", "runc", True), ("runc-noseccomp", "runc", False),
                                         ("gvisor", "gvisor", True)]
    skipped: dict[str, str] = {}
    for pid in QEMU_CHOICES:
        avail = get_driver(pid).probe()
        if avail.usable:
            plan.append(("qemu", pid, True))
            break
        skipped[pid] = avail.reason
    else:
        skipped["qemu"] = "; ".join(f"{k}: {v}" for k, v in skipped.items())
    baseline, _ = host_baseline(probe_guest)
    assert baseline, "the probe must run on the host for the baseline"
    host = HostIdentity.of_this_host()
    before = snapshot()
    results = {}
    for key, pid, seccomp in plan:
        if pid in ("bwrap", "runc", "gvisor"):
            avail = get_driver(pid).probe()
            if not avail.usable:
                skipped[key] = avail.reason
                continue
        results[key] = measure_one(pid, probe_guest, Resources(seccomp=seccomp), TIMEOUT_S, host, baseline)
    return results, skipped, leaks_since(before)


def _get(measured, key):
    results, skipped, _ = measured
    if key not in results:
        pytest.skip(f"{key} not measured here: {skipped.get(key, 'not usable')}")
    return results[key]


def test_nothing_left_behind(measured) -> None:
    assert not measured[2], f"left behind: {measured[2]}"
    sentinels = [p.pid for p in psutil.process_iter(["cmdline"])
                 if (p.info["cmdline"] or [""])[0].startswith("vmscope-sentinel-")]
    assert not sentinels and not list(TOKEN_DIR.glob("vmscope-token-*"))


@pytest.mark.parametrize("key", ["process", "bwrap", "runc"])
def test_process_and_containers_share_the_host_kernel(measured, key) -> None:
    ins = _get(measured, key).inside
    assert ins.kernel is KernelKind.host and ins.shares_host_kernel
    assert ins.boot_id_matches and ins.uname_matches
    assert ins.sweep_done and ins.kernel_reaching > 200


def test_only_the_plain_process_sees_host_files_and_processes(measured) -> None:
    assert _get(measured, "process").inside.token_file_reachable
    assert _get(measured, "process").inside.host_processes_visible
    for key in ("bwrap", "runc", "gvisor", "qemu"):
        results = measured[0]
        if key in results:
            assert not results[key].inside.token_file_reachable, key
            assert not results[key].inside.host_processes_visible, key


def test_gvisor_runs_on_a_user_space_kernel(measured) -> None:
    ins = _get(measured, "gvisor").inside
    assert ins.kernel is KernelKind.user_space and ins.shares_host_kernel is False
    assert not ins.boot_id_matches
    assert ins.counts.get("kernel", 0) == 0  # nothing the sweep called reached the host kernel directly
    assert ins.counts["user_space_kernel"] > 100


def test_vm_reaches_its_own_kernel_and_none_of_the_hosts(measured) -> None:
    r = _get(measured, "qemu")
    ins = r.inside
    assert ins.kernel is KernelKind.guest and ins.shares_host_kernel is False and not ins.boot_id_matches
    assert ins.kernel_reaching > 200  # the guest kernel's syscalls
    from vmscope.measure.isolation import host_syscalls_reachable

    assert host_syscalls_reachable(ins, None)[0] == 0
    assert r.outside.emulated_devices and r.outside.emulated_devices > 0, r.outside.emulated_devices_note
    assert ins.sweep_ms is not None  # timed, reported in the result; no wall-clock pass/fail here


def test_seccomp_profile_reduces_reachable_host_syscalls(measured) -> None:
    with_profile = _get(measured, "runc").inside
    without = _get(measured, "runc-noseccomp").inside
    assert with_profile.seccomp_mode == 2 and without.seccomp_mode == 0
    assert with_profile.kernel_reaching < without.kernel_reaching
    assert with_profile.blocked > 0 and without.blocked == 0


def test_containers_reach_no_more_than_the_plain_process(measured) -> None:
    process = _get(measured, "process").inside.kernel_reaching
    for key in ("bwrap", "runc"):
        assert _get(measured, key).inside.kernel_reaching <= process


def test_bench_isolation_cli(probe_guest, tmp_db, no_leaks, capsys) -> None:
    require_root()
    from vmscope.cli import main
    from vmscope.store import ResultsDB

    assert main(["bench", "isolation", "--platform", "process", "--json", "--db", str(tmp_db)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (row,) = doc["results"]
    assert {"platform", "accel", "shares_host_kernel", "host_syscalls_reachable", "syscalls_blocked", "index",
            "components"} <= set(row)
    assert row["shares_host_kernel"] is True and row["host_syscalls_reachable"] > 200
    assert 0.0 <= row["index"] <= 1.0
    assert all({"raw", "score", "contribution", "source"} <= set(c) for c in row["components"].values())
    with ResultsDB(tmp_db) as db:
        measures = {r.measure for r in db.records(doc["run_id"])}
    assert {"host_syscalls_reachable", "shares_host_kernel", "isolation_index"} <= measures
