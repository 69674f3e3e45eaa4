"""Isolation inside/outside views: probe parsing, syscall classification, kernel identity, headline figure."""

from __future__ import annotations

import json
import os

import pytest

from vmscope.measure.isolation import (
    HostIdentity,
    KernelKind,
    Reach,
    classify,
    inside_view,
    parse_probe,
    root_is_host_root,
)
from vmscope.measure.isolation import host_syscalls_reachable as headline
from vmscope.measure.isolation_outside import (
    OutsideView,
    ProcessView,
    count_qtree_devices,
    outside_view,
    parse_strace_summary,
    qtree_devices,
)

HOST = HostIdentity("11111111-2222-3333-4444-555555555555", "6.18.0-test", "#1 SMP PREEMPT_DYNAMIC @0")
TOKEN = "feedc0de12345678"


def probe_lines(*, boot_id=HOST.boot_id, release=HOST.release, version=HOST.version, sweep=("e9", "e1", "e38", "x"),
                seccomp=0, tmp_tokens=(TOKEN,), proc_tokens=(TOKEN,), gvisor_log=False, uid_map="0 0 4294967295",
                cap_eff="000001ffffffffff", done=True) -> list[str]:
    ident = {"type": "ident", "probe": "c", "version": 1, "boot_id": boot_id,
             "uname": {"sysname": "Linux", "release": release, "version": version, "machine": "x86_64"},
             "uid": 0, "euid": 0, "pid": 5}
    view = {"type": "view", "tmp_tokens": list(tmp_tokens), "procs_visible": 90, "proc_tokens": list(proc_tokens),
            "dev": {"kvm": True, "mem": False, "kmsg": True}, "cap_eff": cap_eff, "seccomp": seccomp,
            "seccomp_filters": 1 if seccomp == 2 else 0, "no_new_privs": 0, "uid_map": uid_map,
            "klog_readable": True, "klog_mentions_gvisor": gvisor_log}
    lines = [json.dumps(ident), json.dumps(view), json.dumps({"type": "sweep", "first": 0, "r": list(sweep)})]
    if done:
        lines.append(json.dumps({"type": "done", "probe": "c", "sweep": True, "sweep_end": len(sweep),
                                 "elapsed_ms": 12}))
    return lines


# --- classification


@pytest.mark.parametrize(("outcome", "baseline", "filtered", "user_kernel", "expected"), [
    ("x", None, False, False, Reach.excluded),
    ("ff", None, False, False, Reach.unknown),
    ("nb", "e22", False, False, Reach.unknown),  # not run: the sweep's time budget was spent
    ("s31", "e22", True, False, Reach.blocked),  # SIGSYS: a seccomp kill
    ("s11", "s11", False, False, Reach.kernel),  # the kernel delivered a signal: it handled the call
    ("e14", "e14", False, False, Reach.kernel),
    ("e9", "e9", True, False, Reach.kernel),
    ("ok", "ok", True, False, Reach.kernel),
    ("to", "to", False, False, Reach.kernel),
    ("e1", "e22", True, False, Reach.blocked),  # EPERM under a filter where the host says EINVAL
    ("e13", "e22", True, False, Reach.blocked),  # EACCES likewise
    ("e1", "e1", True, False, Reach.kernel),  # the unfiltered host says EPERM too: the kernel's own answer
    ("e1", "e22", False, False, Reach.kernel),  # no filter: the kernel's capability check said EPERM
    ("e38", "e22", True, False, Reach.blocked),  # filter ENOSYS: the host kernel has the call
    ("e38", "e38", True, False, Reach.not_implemented),
    ("e38", None, True, False, Reach.not_implemented),  # no baseline: cannot blame a filter
    ("e38", "e22", False, False, Reach.not_implemented),  # no filter (e.g. a VM's older guest kernel)
    ("e22", "e22", False, True, Reach.user_space_kernel),
    ("e38", "e22", False, True, Reach.not_implemented),  # the Sentry does not implement it
    ("e1", "e22", False, True, Reach.blocked),  # refused by the sandbox's policy
])
def test_classify(outcome, baseline, filtered, user_kernel, expected) -> None:
    assert classify(outcome, baseline=baseline, filtered=filtered, user_kernel=user_kernel) is expected


# --- parsing


def test_parse_probe_with_prefix_and_noise() -> None:
    lines = [f"[    1.234] VMSCOPE-PROBE {line}" for line in probe_lines()]
    rep = parse_probe(["garbage without json", *lines])
    assert rep.probe == "c" and rep.complete
    assert rep.sweep == {0: "e9", 1: "e1", 2: "e38", 3: "x"}
    assert len(rep.problems) == 1 and "unreadable" in rep.problems[0]


def test_parse_probe_reports_lost_chunks_and_bad_outcomes() -> None:
    lines = probe_lines(sweep=("e9", "bogus"))
    done = json.loads(lines[-1])
    done["sweep_end"] = 130
    rep = parse_probe([*lines[:-1], json.dumps(done)])
    assert not rep.complete
    assert any("bogus" in p for p in rep.problems) and any("missing" in p for p in rep.problems)


def test_parse_shell_fallback_has_no_sweep() -> None:
    ident = json.loads(probe_lines()[0]) | {"probe": "sh"}
    rep = parse_probe([json.dumps(ident), probe_lines()[1], '{"type":"done","probe":"sh","sweep":false}'])
    view = inside_view(rep, HOST, TOKEN)
    assert rep.probe == "sh" and rep.complete
    assert view.shares_host_kernel is True and not view.sweep_done
    assert view.kernel_reaching is None and headline(view, None)[0] is None


# --- the inside view


def test_process_like_view_shares_everything() -> None:
    v = inside_view(parse_probe(probe_lines()), HOST, TOKEN, baseline={0: "e9", 1: "e22", 2: "e38"})
    assert v.kernel is KernelKind.host and v.shares_host_kernel
    assert v.token_file_reachable and v.host_processes_visible
    assert v.host_exposure() == 4  # token, processes, /dev/kvm, /dev/kmsg
    assert v.counts == {"kernel": 2, "not_implemented": 1, "excluded": 1}  # no filter: the EPERM is the kernel's
    assert headline(v, 68)[0] == 2
    assert v.cap_count == 41 and v.root_is_host_root


def test_filtered_container_blocks() -> None:
    lines = probe_lines(seccomp=2, tmp_tokens=(), proc_tokens=(), cap_eff="00000000a80425fb")
    v = inside_view(parse_probe(lines), HOST, TOKEN, baseline={0: "e9", 1: "e22", 2: "e22"})
    assert v.shares_host_kernel and v.seccomp_mode == 2
    assert v.counts == {"kernel": 1, "blocked": 2, "excluded": 1}
    assert v.blocked == 2 and headline(v, None) == (1, "measured: syscalls reaching the shared host kernel")
    assert v.host_exposure() == 2  # only the host device nodes


def test_vm_reaches_its_own_kernel_only() -> None:
    lines = probe_lines(boot_id="99999999-0000-0000-0000-000000000000", release="6.1.0-guest",
                        tmp_tokens=(), proc_tokens=())
    v = inside_view(parse_probe(lines), HOST, TOKEN, baseline={0: "e9", 1: "e22", 2: "e22"})
    assert v.kernel is KernelKind.guest and v.shares_host_kernel is False
    assert v.kernel_reaching == 2  # the guest's own kernel
    assert headline(v, None)[0] == 0
    assert v.host_exposure() == 0  # guest device nodes are not the host's


def test_user_space_kernel_is_not_the_host() -> None:
    lines = probe_lines(boot_id="", release="4.4.0", version="#1 SMP Sun Jan 10 15:06:54 PST 2016",
                        tmp_tokens=(), proc_tokens=(), gvisor_log=True)
    v = inside_view(parse_probe(lines), HOST, TOKEN, baseline={0: "e9", 1: "e22", 2: "e22"})
    assert v.kernel is KernelKind.user_space and not v.shares_host_kernel
    assert v.counts == {"user_space_kernel": 1, "blocked": 1, "not_implemented": 1, "excluded": 1}
    assert headline(v, 68.0)[0] == 68 and "published" in headline(v, 68.0)[1]
    assert headline(v, None)[0] is None


def test_same_boot_id_but_other_uname_is_not_the_host() -> None:
    v = inside_view(parse_probe(probe_lines(release="5.10.0")), HOST, TOKEN)
    assert v.kernel is KernelKind.guest and v.boot_id_matches and not v.uname_matches


def test_no_probe_output() -> None:
    v = inside_view(parse_probe([]), HOST, TOKEN)
    assert v.kernel is KernelKind.unknown and v.shares_host_kernel is None and v.host_exposure() is None
    assert headline(v, None)[0] is None


@pytest.mark.parametrize(("uid_map", "euid", "expected"), [
    ("0 0 4294967295", 0, True), ("0 100000 65536", 0, False), ("0 0 1", 1000, False), ("", 0, None),
])
def test_root_is_host_root(uid_map, euid, expected) -> None:
    assert root_is_host_root(uid_map, euid) is expected


def test_host_identity_of_this_host() -> None:
    me = HostIdentity.of_this_host()
    assert me.release == os.uname().release and len(me.boot_id) == 36


# --- the outside view


def test_outside_view_of_this_process() -> None:
    view = outside_view([os.getpid(), 2**22 + 12345])  # the second PID does not exist: skipped
    assert [p.pid for p in view.processes] == [os.getpid()]
    assert view.processes[0].namespaces_unshared == []  # we run in the host's namespaces
    assert 0.0 <= view.confinement() <= 1.0


def test_confinement_orders_processes() -> None:
    loose = ProcessView(1, "qemu", 0, 41, 0, 0, False, [])
    tight = ProcessView(2, "runsc", 65534, 0, 2, 3, True, ["ipc", "mnt", "net", "pid", "user", "uts", "cgroup",
                                                           "time"])
    assert OutsideView([loose]).confinement() == 0.0
    assert OutsideView([tight]).confinement() == 1.0
    assert OutsideView([loose, tight]).confinement() == 0.5
    assert OutsideView([]).confinement() is None


def test_qtree_devices() -> None:
    text = """bus: main-system-bus
  type System
  dev: virtio-mmio, id ""
    bus: virtio-mmio-bus.0
  dev: virtio-mmio, id ""
  dev: isa-serial, id ""
      dev: mc146818rtc, id ""
"""
    assert qtree_devices(text) == {"virtio-mmio": 2, "isa-serial": 1, "mc146818rtc": 1}
    assert count_qtree_devices(text) == 3


def test_strace_summary() -> None:
    text = """syscall            calls
------------------ --------
ioctl                  120
read                    10
write                    4
------------------ --------
total                  134
"""
    assert parse_strace_summary(text) == 3


# --- one platform's result row (the CLI's JSON)


def _platform(platform: str, lines: list[str], outside: OutsideView | None = None):
    from vmscope.measure.isolation_run import PlatformIsolation

    inside = inside_view(parse_probe(lines), HOST, TOKEN, baseline={0: "e9", 1: "e22", 2: "e22"})
    return PlatformIsolation(platform, None, True, inside, outside or OutsideView())


def test_result_rows_headline_per_kind() -> None:
    from vmscope.cli.bench_isolation import result_row
    from vmscope.measure.rubric import load_rubric
    from vmscope.model import EvidenceKind, Metric, PlatformClass, Record, Source, Statistic

    src = Source(key="t", authors="t", title="t", venue="t", year=2024, url="")
    gv_filter = Record(id="gv-1", source=src, platform="gvisor", platform_class=PlatformClass.secure_container,
                       metric=Metric.isolation, measure="seccomp_syscalls_allowed", value=68, unit="count",
                       statistic=Statistic.single, kind=EvidenceKind.peer_reviewed)
    rubric = load_rubric()
    gvisor = _platform("gvisor", probe_lines(boot_id="", release="4.4.0", tmp_tokens=(), proc_tokens=(),
                                             gvisor_log=True))
    row = result_row(gvisor, rubric, [gv_filter])
    assert row["kernel"] == "user_space" and row["shares_host_kernel"] is False
    assert row["host_syscalls_reachable"] == 68
    assert row["components"]["host_syscalls_reachable"]["source"] == "published"
    assert row["sandbox_syscalls_handled"] == 1 and row["guest_syscalls_reachable"] is None
    assert result_row(gvisor, rubric, [])["host_syscalls_reachable"] is None

    runc = _platform("runc", probe_lines(seccomp=2, tmp_tokens=(), proc_tokens=()))
    row = result_row(runc, rubric, [])
    assert (row["shares_host_kernel"], row["host_syscalls_reachable"], row["syscalls_blocked"]) == (True, 1, 2)
    assert row["components"]["emulated_device_count"]["source"] == "not_applicable"

    vm = _platform("qemu-microvm", probe_lines(boot_id="x", release="6.1.0", tmp_tokens=(), proc_tokens=()),
                   OutsideView(emulated_devices=10))
    row = result_row(vm, rubric, [])
    assert row["host_syscalls_reachable"] == 0 and row["guest_syscalls_reachable"] == 2
    assert row["components"]["emulated_device_count"]["raw"] == 10
    assert row["index"] > result_row(runc, rubric, [])["index"]


@pytest.mark.parametrize("seccomp", [True, False])
def test_a_failed_platform_points_at_its_saved_console_log(tmp_path, monkeypatch, seccomp) -> None:
    from types import SimpleNamespace

    from vmscope.measure import isolation_run
    from vmscope.platforms.base import LaunchError, Resources
    from vmscope.platforms.console import Console

    class NeverReady:
        console, workdir, notes, accel = Console(), tmp_path, {}, None

        def pids(self) -> list[int]:
            return []

        def wait_ready(self, timeout_s: float) -> None:
            raise LaunchError("guest never became ready")

        def stop(self) -> None:
            pass

    monkeypatch.setattr(isolation_run, "get_driver", lambda _p: SimpleNamespace(launch=lambda g, r: NeverReady()))
    results, failures, _ = isolation_run.measure_isolation(
        ["runc"], SimpleNamespace(rootfs=tmp_path), Resources(seccomp=seccomp), 1.0, tmp_path / "logs")
    assert results == [] and [f.platform for f in failures] == ["runc"]
    assert failures[0].console_log is not None and failures[0].console_log.exists()
