"""The shared guest: one kernel, one initramfs/rootfs and one init, launched by every platform driver."""

from vmscope.guest.build import Guest, build_guest, ensure_guest, kernel_cmdline, load_guest

__all__ = ["Guest", "build_guest", "ensure_guest", "kernel_cmdline", "load_guest"]
