"""Synthetic kernels for tests (here and in other packages' tests): bzImage-shaped blobs with known payloads.

Nothing in here boots; it only has the bytes the header parser and the extractor look at.
"""

from __future__ import annotations

import struct

from vmscope.guest.vmlinux import LZ4_LEGACY_BLOCK_MAX, LZ4_LEGACY_MAGIC

FAKE_VERSION = "6.9.9-test-amd64 (builder@example) #1 SMP PREEMPT_DYNAMIC"
# An "ELF" big enough to span compression blocks, compressible enough to keep tests fast.
FAKE_ELF = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 4096 + b"Linux version " + FAKE_VERSION.encode() + b"\0"


def lz4_legacy(data: bytes, block: int = LZ4_LEGACY_BLOCK_MAX) -> bytes:
    """The kernel's LZ4 legacy framing: magic, then <u32 LE compressed size><block> for each <= 8 MiB."""
    import lz4.block

    out = bytearray(LZ4_LEGACY_MAGIC)
    for i in range(0, len(data), block):
        chunk = lz4.block.compress(data[i : i + block], store_size=False)
        out += struct.pack("<I", len(chunk)) + chunk
    return bytes(out)


def fake_bzimage(
    payload: bytes,
    *,
    setup_sects: int = 3,
    version: str | None = FAKE_VERSION,
    protocol: int = 0x020F,
    payload_offset_field: int | None = None,
    lead: int = 0x80,
    uncompressed_size: int = len(FAKE_ELF),
) -> bytes:
    """Setup sectors carrying the header fields, then protected-mode bytes holding `payload` at `lead`.

    Like the kernel's build, the decompressed size is appended to the payload as 4 bytes.
    `payload_offset_field` overrides the header's payload_offset (to exercise the scanning fallback).
    """
    real_sects = setup_sects or 4
    setup = bytearray((real_sects + 1) * 512)
    setup[0x1F1] = setup_sects
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, protocol)
    if version is not None:
        setup[0x400 : 0x400 + len(version) + 1] = version.encode() + b"\0"
        struct.pack_into("<H", setup, 0x20E, 0x400 - 0x200)
    stream = payload + struct.pack("<I", uncompressed_size)
    off = lead if payload_offset_field is None else payload_offset_field
    struct.pack_into("<II", setup, 0x248, off, len(stream))
    return bytes(setup) + bytes(lead) + stream + bytes(64)


def fake_static_elf() -> bytes:
    """A minimal ELF64 header with one PT_LOAD and no PT_INTERP: passes the static-busybox check."""
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4], header[5] = 2, 1  # ELFCLASS64, little-endian
    struct.pack_into("<Q", header, 0x20, 64)  # e_phoff
    struct.pack_into("<HH", header, 0x36, 56, 1)  # e_phentsize, e_phnum
    return bytes(header) + struct.pack("<I", 1) + bytes(52)
