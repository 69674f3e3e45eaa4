import pytest

from vmscope.errors import UserError
from vmscope.platforms import PLATFORMS, get_driver, parse_platforms
from vmscope.platforms.oci_bundle import make_config
from vmscope.platforms.seccomp import BLOCKED_SYSCALLS

DESIGN_IDS = ["process", "bwrap", "crun", "runc", "gvisor", "qemu-pc", "qemu-q35", "qemu-microvm",
              "firecracker", "cloud-hypervisor", "kvm-floor"]


def test_every_design_platform_is_registered():
    assert set(DESIGN_IDS) <= set(PLATFORMS)


def test_unknown_platform_is_a_user_error_naming_it():
    with pytest.raises(UserError) as e:
        parse_platforms("runc,nosuch")
    assert "nosuch" in str(e.value)
    with pytest.raises(UserError):
        get_driver("nosuch")


def test_all_and_lists():
    assert parse_platforms("all") == list(PLATFORMS)
    assert parse_platforms(" runc , process,runc") == ["runc", "process"]
    with pytest.raises(UserError):
        parse_platforms(" , ")


def test_drivers_match_registry_classes():
    for pid, info in PLATFORMS.items():
        d = get_driver(pid)
        assert d.platform_class == info.platform_class, pid


def test_oci_config_uses_shared_rootfs_readonly(tmp_path):
    cfg = make_config(tmp_path, ["/init", "--env", "container"], "vmscope-x", seccomp=True)
    assert cfg["root"] == {"path": str(tmp_path), "readonly": True}
    assert cfg["process"]["args"][0] == "/init"
    assert cfg["linux"]["cgroupsPath"] == "/vmscope/vmscope-x"
    blocked = cfg["linux"]["seccomp"]["syscalls"][0]["names"]
    assert "mount" in blocked and "kexec_load" in blocked and blocked == BLOCKED_SYSCALLS
    assert "seccomp" not in make_config(tmp_path, ["/init"], "y", seccomp=False)["linux"]
    types = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert {"pid", "mount", "network", "ipc", "uts"} <= types


def test_kill_group_is_bounded_when_a_helper_left_the_group_holding_the_pipe(monkeypatch):
    import subprocess
    import time

    import psutil

    from vmscope.platforms import trial

    monkeypatch.setattr(trial, "KILL_WAIT_S", 0.5)
    token = "30.4711"  # marks the daemonised helper, to end it afterwards
    proc = subprocess.Popen(["sh", "-c", f"setsid sleep {token} & exec sleep 30"], stdout=subprocess.PIPE,
                            start_new_session=True)
    time.sleep(0.3)
    t0 = time.monotonic()
    try:
        trial.kill_group(proc)
        assert time.monotonic() - t0 < 5
        assert proc.poll() is not None
    finally:
        for p in psutil.process_iter(["cmdline"]):
            if p.info["cmdline"] == ["sleep", token]:
                p.kill()


def test_a_tool_version_is_asked_once_per_process(tmp_path):
    from vmscope.platforms.util import tool_version

    count = tmp_path / "count"
    tool = tmp_path / "tool"
    tool.write_text(f"#!/bin/sh\necho run >> {count}\necho 'tool 1.2'\n")
    tool.chmod(0o755)
    assert tool_version([str(tool), "--version"]) == "tool 1.2"
    assert tool_version([str(tool), "--version"]) == "tool 1.2"
    assert count.read_text().count("run") == 1
