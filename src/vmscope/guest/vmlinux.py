"""Read an x86 bzImage: validate its setup header, read its version string, extract the ELF vmlinux.

The boot protocol (Documentation/arch/x86/boot.rst) fixes the offsets used here. The compressed
kernel sits at `payload_offset` (relative to the protected-mode code, which starts after the
real-mode setup sectors); its format is recognised by magic bytes.
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vmscope.errors import UserError

HDRS_MAGIC = b"HdrS"
ELF_MAGIC = b"\x7fELF"

_OFF_SETUP_SECTS = 0x1F1
_OFF_HDRS = 0x202
_OFF_PROTOCOL = 0x206
_OFF_KERNEL_VERSION = 0x20E
_OFF_PAYLOAD_OFFSET = 0x248
_OFF_PAYLOAD_LENGTH = 0x24C
_MIN_PROTOCOL_PAYLOAD = 0x0208  # payload_offset/payload_length exist from boot protocol 2.08

LZ4_LEGACY_MAGIC = b"\x02\x21\x4c\x18"
LZ4_LEGACY_BLOCK_MAX = 8 << 20

# Output size cap: no real vmlinux is near this; it guards against a decompression bomb.
_MAX_VMLINUX_BYTES = 1 << 30


class ExtractError(Exception):
    """The vmlinux could not be extracted; the message says why (kept as Guest.vmlinux_error)."""


@dataclass(frozen=True)
class SetupHeader:
    setup_sects: int
    protocol: tuple[int, int]
    version_string: str | None
    payload_offset: int | None  # absolute file offset of the compressed payload
    payload_length: int | None

    @property
    def protected_mode_start(self) -> int:
        return (self.setup_sects + 1) * 512


def is_bzimage(data: bytes) -> bool:
    return len(data) >= _OFF_HDRS + 4 and data[_OFF_HDRS : _OFF_HDRS + 4] == HDRS_MAGIC


def parse_setup_header(data: bytes) -> SetupHeader:
    """Parse the fields vmscope needs; raises ValueError if `data` is not a bzImage."""
    if not is_bzimage(data):
        raise ValueError('no "HdrS" magic at offset 0x202')
    setup_sects = data[_OFF_SETUP_SECTS] or 4  # 0 means 4, for very old kernels
    (proto,) = struct.unpack_from("<H", data, _OFF_PROTOCOL)
    version = _read_version_string(data)
    payload_offset = payload_length = None
    if proto >= _MIN_PROTOCOL_PAYLOAD and len(data) >= _OFF_PAYLOAD_LENGTH + 4:
        rel_off, length = struct.unpack_from("<II", data, _OFF_PAYLOAD_OFFSET)
        payload_offset = (setup_sects + 1) * 512 + rel_off
        payload_length = length
    return SetupHeader(setup_sects, (proto >> 8, proto & 0xFF), version, payload_offset, payload_length)


def _read_version_string(data: bytes) -> str | None:
    (ptr,) = struct.unpack_from("<H", data, _OFF_KERNEL_VERSION)
    if ptr == 0:
        return None
    start = ptr + 0x200
    end = data.find(b"\0", start, start + 512)
    if start >= len(data) or end < 0:
        return None
    text = data[start:end].decode("ascii", errors="replace").strip()
    return text or None


def kernel_release(version_string: str | None) -> str | None:
    """'6.1.0-57-cloud-amd64 (debian-kernel@...) #1 SMP ...' -> '6.1.0-57-cloud-amd64'."""
    if not version_string:
        return None
    return version_string.split()[0]


def elf_kernel_release(data: bytes) -> str | None:
    """The release from the 'Linux version X ...' banner inside an ELF vmlinux."""
    idx = data.find(b"Linux version ")
    if idx < 0:
        return None
    end = data.find(b"\0", idx, idx + 512)
    banner = data[idx + len(b"Linux version ") : end if end > 0 else idx + 512]
    return kernel_release(banner.decode("ascii", errors="replace"))


# --- decompressors: each takes the bytes starting at the magic and returns the decompressed stream;
# trailing data (the kernel appends the decompressed size as 4 bytes) must be tolerated.


def _gunzip(data: bytes) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    return d.decompress(data, _MAX_VMLINUX_BYTES)


def _unxz(data: bytes) -> bytes:
    return lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(data, _MAX_VMLINUX_BYTES)


def _unlzma(data: bytes) -> bytes:
    return lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(data, _MAX_VMLINUX_BYTES)


def _bunzip2(data: bytes) -> bytes:
    return bz2.BZ2Decompressor().decompress(data, _MAX_VMLINUX_BYTES)


def _unzstd(data: bytes) -> bytes:
    import zstandard

    # The kernel builds use `zstd -22 --ultra`, whose window can exceed the library default.
    d = zstandard.ZstdDecompressor(max_window_size=1 << 31).decompressobj()
    return d.decompress(data)


def _unlz4_legacy(data: bytes) -> bytes:
    """LZ4 legacy frame: magic, then blocks of <u32 LE compressed size><data>, each <= 8 MiB out.

    There is no end marker: a block that decompresses to less than 8 MiB is the last one, and a
    size field that cannot be a block (zero, too big, a new magic) ends the stream.
    """
    import lz4.block

    out = bytearray()
    pos = len(LZ4_LEGACY_MAGIC)
    while pos + 4 <= len(data):
        if data[pos : pos + 4] == LZ4_LEGACY_MAGIC:  # concatenated frame
            pos += 4
            continue
        (size,) = struct.unpack_from("<I", data, pos)
        if size == 0 or pos + 4 + size > len(data):
            break
        try:
            block = lz4.block.decompress(data[pos + 4 : pos + 4 + size], uncompressed_size=LZ4_LEGACY_BLOCK_MAX)
        except lz4.block.LZ4BlockError:
            if out:
                break  # trailing bytes after the last block
            raise
        out += block
        pos += 4 + size
        if len(block) < LZ4_LEGACY_BLOCK_MAX or len(out) > _MAX_VMLINUX_BYTES:
            break
    return bytes(out)


# (name, magic, decompressor), tried in this order when scanning.
FORMATS: list[tuple[str, bytes, Callable[[bytes], bytes]]] = [
    ("gzip", b"\x1f\x8b\x08", _gunzip),
    ("xz", b"\xfd7zXZ\x00", _unxz),
    ("zstd", b"\x28\xb5\x2f\xfd", _unzstd),
    ("lz4", LZ4_LEGACY_MAGIC, _unlz4_legacy),
    ("bzip2", b"BZh", _bunzip2),
    ("lzma", b"\x5d\x00\x00", _unlzma),
]


def detect_format(payload: bytes) -> str | None:
    for name, magic, _ in FORMATS:
        if payload.startswith(magic):
            return name
    return None


def _try(name: str, blob: bytes) -> bytes | None:
    fn = next(f for n, _, f in FORMATS if n == name)
    try:
        out = fn(blob)
    except Exception:  # any decoder failure just means "not this candidate"
        return None
    return out if out.startswith(ELF_MAGIC) else None


_MAX_SCAN_CANDIDATES = 64


def extract_vmlinux_bytes(data: bytes) -> tuple[bytes, str]:
    """Return (ELF vmlinux bytes, compression format name) from a bzImage's bytes."""
    problems: list[str] = []
    try:
        hdr = parse_setup_header(data)
    except ValueError as exc:
        raise ExtractError(f"not a bzImage: {exc}") from exc
    if hdr.payload_offset is not None and hdr.payload_length:
        payload = data[hdr.payload_offset : hdr.payload_offset + hdr.payload_length]
        fmt = detect_format(payload)
        if fmt is None:
            problems.append(f"payload at 0x{hdr.payload_offset:x} has an unknown magic {payload[:6].hex()}")
        else:
            out = _try(fmt, payload)
            if out is not None:
                return out, fmt
            problems.append(f"{fmt} payload at 0x{hdr.payload_offset:x} did not decompress to an ELF")
    else:
        problems.append(f"boot protocol {hdr.protocol[0]}.{hdr.protocol[1]:02d} has no payload fields")

    # Fallback: scan for every known magic after the setup code, nearest first.
    start = hdr.protected_mode_start
    candidates: list[tuple[int, str]] = []
    for name, magic, _ in FORMATS:
        pos = data.find(magic, start)
        while pos >= 0 and len(candidates) < _MAX_SCAN_CANDIDATES * len(FORMATS):
            candidates.append((pos, name))
            pos = data.find(magic, pos + 1)
    candidates.sort()
    for pos, name in candidates[:_MAX_SCAN_CANDIDATES]:
        out = _try(name, data[pos:])
        if out is not None:
            return out, name
    problems.append("no known compressed stream found by scanning (gzip, xz, zstd, lz4, bzip2, lzma)")
    raise ExtractError("; ".join(problems))


def extract_vmlinux(bzimage: Path, dest: Path) -> str:
    """Write the ELF vmlinux from `bzimage` to `dest`; returns the compression format name."""
    try:
        data = bzimage.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read kernel {bzimage}: {exc.strerror}") from exc
    elf, fmt = extract_vmlinux_bytes(data)
    dest.write_bytes(elf)
    return fmt
