"""VM drivers without launching anything: QEMU argv, Firecracker config, Cloud Hypervisor argv."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from vmscope.errors import UserError
from vmscope.platforms import get_driver
from vmscope.platforms.base import LaunchError, Resources
from vmscope.platforms.cloud_hypervisor import cloud_hypervisor_argv
from vmscope.platforms.firecracker import firecracker_argv, firecracker_config
from vmscope.platforms.qemu import MACHINES, accel_args, qemu_argv
from vmscope.platforms.vmm_bin import find_vmm


def fake_guest(vmlinux: bool = True, elf_only: bool = False) -> SimpleNamespace:
    d = Path("/g")
    return SimpleNamespace(kernel=d / ("vmlinux" if elf_only else "bzImage"),
                           vmlinux=d / "vmlinux" if vmlinux or elf_only else None,
                           initramfs=d / "initramfs.cpio", kernel_is_elf=elf_only,
                           vmlinux_error=None if vmlinux else "no ELF payload found")


def opt(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def build(platform: str, accel: str = "tcg", guest=None, tsc_khz: int | None = 2_600_000, **res):
    return qemu_argv(MACHINES[platform], guest or fake_guest(), Resources(**res), accel, Path("/w"), tsc_khz=tsc_khz)


@pytest.mark.parametrize("platform,machine", [("qemu-pc", "pc"), ("qemu-q35", "q35")])
def test_full_pc_boots_the_bzimage_through_seabios(platform, machine):
    argv, notes = build(platform)
    assert opt(argv, "-machine") == machine
    assert "-bios" not in argv and "SeaBIOS" in notes["firmware"]
    assert opt(argv, "-kernel") == "/g/bzImage" and notes["kernel_format"].startswith("bzImage")
    assert opt(argv, "-initrd") == "/g/initramfs.cpio"


def test_common_options_console_on_stdio_qmp_and_no_reboot():
    for platform in MACHINES:
        argv, _ = build(platform, mem_mib=512, vcpus=2)
        assert opt(argv, "-serial") == "stdio" and opt(argv, "-display") == "none"
        assert "-nodefaults" in argv and "-no-reboot" in argv and "-nographic" not in argv
        assert opt(argv, "-m") == "512M" and opt(argv, "-smp") == "2"
        assert opt(argv, "-qmp") == "unix:qmp.sock,server=on,wait=off"  # relative to the workdir (cwd)
        append = opt(argv, "-append")
        assert "quiet" not in append.split() and "printk.time=1" in append and "console=ttyS0" in append


def test_microvm_prefers_the_pvh_vmlinux_and_has_no_option_roms_or_pci():
    argv, notes = build("qemu-microvm")
    m = opt(argv, "-machine")
    assert m.startswith("microvm,") and "x-option-roms=off" in m and "isa-serial=on" in m and "pcie=off" in m
    assert opt(argv, "-kernel") == "/g/vmlinux" and "PVH" in notes["kernel_format"]
    argv, notes = build("qemu-microvm", guest=fake_guest(vmlinux=False))
    assert opt(argv, "-kernel") == "/g/bzImage" and notes["kernel_format"].startswith("bzImage")


def test_elf_only_guest_boots_via_pvh_on_every_machine():
    argv, notes = build("qemu-q35", guest=fake_guest(elf_only=True))
    assert opt(argv, "-kernel") == "/g/vmlinux" and "PVH" in notes["kernel_format"]


def test_microvm_under_tcg_is_told_the_tsc_rate_and_user_extra_comes_last():
    argv, _ = build("qemu-microvm", extra_cmdline="panic=0")
    append = opt(argv, "-append")
    assert "tsc_early_khz=2600000" in append and append.endswith("panic=0")
    assert "tsc_early_khz" not in opt(build("qemu-microvm", accel="kvm")[0], "-append")
    assert "tsc_early_khz" not in opt(build("qemu-q35")[0], "-append")
    assert "tsc_early_khz" not in opt(build("qemu-microvm", tsc_khz=None)[0], "-append")


def test_hold_mode_and_probe_reach_the_kernel_command_line():
    append = opt(build("qemu-pc", mode="hold", probe=True)[0], "-append")
    assert "vmscope.mode=hold" in append and "vmscope.probe=1" in append


def test_accelerator_arguments():
    assert accel_args("kvm", 1) == ["-accel", "kvm"]
    assert accel_args("tcg", 1) == ["-accel", "tcg"]
    assert accel_args("tcg", 4) == ["-accel", "tcg,thread=multi"]
    with pytest.raises(UserError):
        accel_args("hvf", 1)


def test_bad_resources_are_user_errors():
    with pytest.raises(UserError):
        build("qemu-pc", mem_mib=16)
    with pytest.raises(UserError):
        build("qemu-pc", vcpus=0)


def test_registry_maps_each_qemu_id_to_its_machine():
    for pid in MACHINES:
        d = get_driver(pid)
        assert d.id == pid and d.machine is MACHINES[pid]
    assert get_driver("qemu-microvm").platform_class.value == "microvm"
    assert get_driver("qemu-q35").platform_class.value == "traditional_vm"


# --- Firecracker: the config file must parse as Firecracker's VmmConfig (serde, deny_unknown_fields)
FC_TOP = {"balloon", "drives", "boot-source", "cpu-config", "logger", "machine-config", "metrics", "mmds-config",
          "network-interfaces", "vsock", "entropy"}
FC_BOOT = {"kernel_image_path": str, "initrd_path": str, "boot_args": str}
FC_MACHINE = {"vcpu_count": int, "mem_size_mib": int, "smt": bool, "track_dirty_pages": bool, "cpu_template": str,
              "huge_pages": str}


def test_firecracker_config_matches_the_documented_format():
    cfg = json.loads(json.dumps(firecracker_config(fake_guest(), Resources(mem_mib=384, vcpus=2))))
    assert set(cfg) <= FC_TOP
    assert {"boot-source", "drives"} <= set(cfg)  # both required by the parser (drives has no default)
    assert cfg["drives"] == []
    boot = cfg["boot-source"]
    assert set(boot) <= set(FC_BOOT) and all(isinstance(boot[k], FC_BOOT[k]) for k in boot)
    assert boot["kernel_image_path"] == "/g/vmlinux" and boot["initrd_path"] == "/g/initramfs.cpio"
    assert "console=ttyS0" in boot["boot_args"] and "reboot=k" in boot["boot_args"]
    machine = cfg["machine-config"]
    assert set(machine) <= set(FC_MACHINE)
    assert all(type(machine[k]) is FC_MACHINE[k] for k in machine)  # bool is not an int here
    assert machine["vcpu_count"] == 2 and machine["mem_size_mib"] == 384


def test_firecracker_argv_and_limits():
    assert firecracker_argv("/bin/fc", Path("/w/firecracker.json")) == [
        "/bin/fc", "--no-api", "--config-file", "/w/firecracker.json"]
    with pytest.raises(LaunchError):
        firecracker_config(fake_guest(), Resources(vcpus=33))
    with pytest.raises(LaunchError, match="no ELF payload"):
        firecracker_config(fake_guest(vmlinux=False), Resources())


def test_cloud_hypervisor_command_line():
    argv = cloud_hypervisor_argv("/bin/ch", fake_guest(), Resources(mem_mib=512, vcpus=2, extra_cmdline="x=1"))
    assert argv[0] == "/bin/ch"
    assert opt(argv, "--kernel") == "/g/vmlinux" and opt(argv, "--initramfs") == "/g/initramfs.cpio"
    assert re.fullmatch(r"size=\d+M", opt(argv, "--memory")) and opt(argv, "--memory") == "size=512M"
    assert opt(argv, "--cpus") == "boot=2"
    assert opt(argv, "--serial") == "tty" and opt(argv, "--console") == "off"
    assert opt(argv, "--cmdline").endswith("x=1") and "console=ttyS0" in opt(argv, "--cmdline")
    flags = [a for a in argv[1:] if a.startswith("--")]
    assert len(flags) == len(set(flags)) == 7


def test_vmm_binary_from_env_beats_path(tmp_path, monkeypatch):
    exe = tmp_path / "firecracker"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("VMSCOPE_FIRECRACKER_BIN", str(exe))
    assert find_vmm("firecracker", "VMSCOPE_FIRECRACKER_BIN") == (str(exe), "$VMSCOPE_FIRECRACKER_BIN")
    monkeypatch.setenv("VMSCOPE_FIRECRACKER_BIN", str(tmp_path / "missing"))
    path, where = find_vmm("firecracker", "VMSCOPE_FIRECRACKER_BIN")
    assert path is None and "not an executable" in where


def test_missing_vmm_probe_says_where_to_get_it(monkeypatch):
    monkeypatch.delenv("VMSCOPE_FIRECRACKER_BIN", raising=False)
    monkeypatch.delenv("VMSCOPE_CLOUD_HYPERVISOR_BIN", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    fc = get_driver("firecracker").probe()
    assert not fc.usable and "github.com/firecracker-microvm/firecracker/releases" in fc.reason
    ch = get_driver("cloud-hypervisor").probe()
    assert not ch.usable and "github.com/cloud-hypervisor/cloud-hypervisor/releases" in ch.reason


@pytest.mark.parametrize("platform,env", [("firecracker", "VMSCOPE_FIRECRACKER_BIN"),
                                          ("cloud-hypervisor", "VMSCOPE_CLOUD_HYPERVISOR_BIN")])
def test_present_vmm_still_needs_a_kvm_that_runs_linux(tmp_path, monkeypatch, platform, env):
    from vmscope.platforms import accel

    exe = tmp_path / platform
    exe.write_text("#!/bin/sh\necho 'v1.0'\n")
    exe.chmod(0o755)
    monkeypatch.setenv(env, str(exe))
    monkeypatch.setattr(accel, "kvm_verdict", lambda guest=None, refresh=False: {
        "status": "cannot_run_linux", "reason": "KVM internal error. Suberror: 1"})
    avail = get_driver(platform).probe()
    assert not avail.usable and "cannot_run_linux" in avail.reason and avail.version == "v1.0"
    monkeypatch.setattr(accel, "kvm_verdict", lambda guest=None, refresh=False: {"status": "usable", "reason": ""})
    avail = get_driver(platform).probe()
    assert avail.usable and avail.details["binary"] == str(exe)
    assert get_driver(platform).accel_for(Resources()) == "kvm"
