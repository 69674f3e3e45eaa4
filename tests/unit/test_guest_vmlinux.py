"""vmlinux extraction and setup-header parsing on synthetic bzImages, one per payload compression."""

from __future__ import annotations

import bz2
import gzip
import lzma

import pytest
import zstandard

from vmscope.guest import vmlinux as vml
from vmscope.guest.fakes import FAKE_ELF, FAKE_VERSION, fake_bzimage, lz4_legacy

COMPRESSORS = {
    "gzip": gzip.compress,
    "xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "bzip2": bz2.compress,
    "zstd": lambda d: zstandard.ZstdCompressor(level=3).compress(d),
    "lz4": lz4_legacy,
}


@pytest.mark.parametrize("fmt", sorted(COMPRESSORS))
def test_extracts_each_payload_format_via_header(fmt: str) -> None:
    image = fake_bzimage(COMPRESSORS[fmt](FAKE_ELF))
    elf, found = vml.extract_vmlinux_bytes(image)
    assert found == fmt
    assert elf == FAKE_ELF


@pytest.mark.parametrize("fmt", ["gzip", "xz", "zstd", "lz4"])
def test_falls_back_to_scanning_when_header_offset_is_wrong(fmt: str) -> None:
    image = fake_bzimage(COMPRESSORS[fmt](FAKE_ELF), payload_offset_field=4)
    elf, found = vml.extract_vmlinux_bytes(image)
    assert (elf, found) == (FAKE_ELF, fmt)


def test_old_protocol_without_payload_fields_is_scanned() -> None:
    image = fake_bzimage(gzip.compress(FAKE_ELF), protocol=0x0206)
    assert vml.parse_setup_header(image).payload_offset is None
    assert vml.extract_vmlinux_bytes(image) == (FAKE_ELF, "gzip")


def test_lz4_legacy_multi_block() -> None:
    big = FAKE_ELF + bytes(9 << 20)  # > 8 MiB: two blocks, then the appended size must not be read
    image = fake_bzimage(lz4_legacy(big))
    elf, fmt = vml.extract_vmlinux_bytes(image)
    assert fmt == "lz4" and elf == big


def test_payload_that_is_not_elf_is_an_error() -> None:
    image = fake_bzimage(gzip.compress(b"not an elf at all" * 100))
    with pytest.raises(vml.ExtractError, match="did not decompress to an ELF"):
        vml.extract_vmlinux_bytes(image)


def test_unknown_payload_magic_is_an_error() -> None:
    image = fake_bzimage(b"\x89LZO\x00" + bytes(100))
    with pytest.raises(vml.ExtractError, match="unknown magic"):
        vml.extract_vmlinux_bytes(image)


def test_not_a_bzimage_is_an_error() -> None:
    with pytest.raises(vml.ExtractError, match="not a bzImage"):
        vml.extract_vmlinux_bytes(bytes(4096))


def test_setup_header_fields() -> None:
    image = fake_bzimage(gzip.compress(FAKE_ELF), setup_sects=3)
    hdr = vml.parse_setup_header(image)
    assert hdr.setup_sects == 3
    assert hdr.protocol == (2, 15)
    assert hdr.protected_mode_start == 4 * 512
    assert hdr.payload_offset == 4 * 512 + 0x80
    assert image[hdr.payload_offset : hdr.payload_offset + 3] == b"\x1f\x8b\x08"


def test_setup_sects_zero_means_four() -> None:
    image = fake_bzimage(gzip.compress(FAKE_ELF), setup_sects=0)
    hdr = vml.parse_setup_header(image)
    assert hdr.setup_sects == 4
    assert vml.extract_vmlinux_bytes(image)[0] == FAKE_ELF


def test_version_string_and_release() -> None:
    hdr = vml.parse_setup_header(fake_bzimage(gzip.compress(FAKE_ELF)))
    assert hdr.version_string == FAKE_VERSION
    assert vml.kernel_release(hdr.version_string) == "6.9.9-test-amd64"


def test_missing_version_string() -> None:
    hdr = vml.parse_setup_header(fake_bzimage(gzip.compress(FAKE_ELF), version=None))
    assert hdr.version_string is None
    assert vml.kernel_release(hdr.version_string) is None


def test_release_from_elf_banner() -> None:
    assert vml.elf_kernel_release(FAKE_ELF) == "6.9.9-test-amd64"
    assert vml.elf_kernel_release(b"\x7fELF nothing here") is None


def test_extract_vmlinux_writes_file(tmp_path) -> None:
    src = tmp_path / "bzImage"
    src.write_bytes(fake_bzimage(COMPRESSORS["zstd"](FAKE_ELF)))
    dest = tmp_path / "vmlinux"
    assert vml.extract_vmlinux(src, dest) == "zstd"
    assert dest.read_bytes() == FAKE_ELF
