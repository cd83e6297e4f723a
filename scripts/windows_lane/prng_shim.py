"""A 1 KB `bcryptprimitives.dll` for Wine 8, which lacks it.

Rust 1.78+ programs (pydantic-core, rpds-py, ruff...) import `ProcessPrng` from
bcryptprimitives.dll, which Windows 10 has and Wine gained only in 9.0; under Wine 8 they fail
with "DLL load failed: Module not found". This builds a DLL that exports only `ProcessPrng`, as a
forwarder to advapi32's `SystemFunction036` (RtlGenRandom): same arguments, fills the buffer from
the system RNG, returns nonzero. It has no code, only PE headers and an export table, so it is
written here rather than downloaded or compiled.
"""

from __future__ import annotations

import struct

__all__ = ["DLL_NAME", "build_prng_shim"]

DLL_NAME = "bcryptprimitives.dll"
_FORWARD_TO = b"advapi32.SystemFunction036"
_FILE_ALIGN = 0x200
_SECTION_RVA = 0x1000
_IMAGE_BASE = 0x6F000000


def _section(forward_to: bytes) -> tuple[bytes, int, int]:
    """The .rdata section: export directory + names + forwarder, then an empty base-reloc block."""
    dll_name = DLL_NAME.encode() + b"\0"
    func_name = b"ProcessPrng\0"
    forwarder = forward_to + b"\0"
    functions = 40  # after the 40-byte IMAGE_EXPORT_DIRECTORY
    names = functions + 4
    ordinals = names + 4
    dll_name_at = ordinals + 4
    func_name_at = dll_name_at + len(dll_name)
    forwarder_at = func_name_at + len(func_name)
    exports_end = forwarder_at + len(forwarder)  # a function RVA inside the export range = forwarder
    reloc_at = (exports_end + 3) // 4 * 4
    body = bytearray(_FILE_ALIGN)
    rva = _SECTION_RVA
    struct.pack_into("<IIHHIIIIIII", body, 0, 0, 0, 0, 0, rva + dll_name_at, 1, 1, 1,
                     rva + functions, rva + names, rva + ordinals)
    struct.pack_into("<I", body, functions, rva + forwarder_at)
    struct.pack_into("<I", body, names, rva + func_name_at)
    struct.pack_into("<H", body, ordinals, 0)
    body[dll_name_at:func_name_at] = dll_name
    body[func_name_at:forwarder_at] = func_name
    body[forwarder_at:exports_end] = forwarder
    # One relocation block with no entries: the image may be loaded anywhere, nothing to fix up.
    struct.pack_into("<II", body, reloc_at, rva, 8)
    return bytes(body), exports_end, reloc_at


def build_prng_shim(forward_to: bytes = _FORWARD_TO) -> bytes:
    """The bytes of a PE32+ (x64) DLL exporting `ProcessPrng` as a forwarder to `forward_to`."""
    body, exports_size, reloc_at = _section(forward_to)
    headers = bytearray(_FILE_ALIGN)
    headers[0:2] = b"MZ"
    struct.pack_into("<I", headers, 0x3C, 0x40)  # e_lfanew: the PE header follows the DOS header
    headers[0x40:0x44] = b"PE\0\0"
    # COFF header: AMD64, 1 section, 240-byte optional header; EXECUTABLE | LARGE_ADDRESS | DLL.
    struct.pack_into("<HHIIIHH", headers, 0x44, 0x8664, 1, 0, 0, 0, 0xF0, 0x2022)
    opt = 0x58
    # PE32+ magic, linker 14.0, no code, 1 section of initialised data, no entry point.
    struct.pack_into("<HBBIIIII", headers, opt, 0x20B, 14, 0, 0, _FILE_ALIGN, 0, 0, 0)
    struct.pack_into("<Q", headers, opt + 24, _IMAGE_BASE)
    # Alignments, OS/image/subsystem versions (6.0), image and header sizes, checksum, subsystem
    # (console), DllCharacteristics DYNAMIC_BASE | NX_COMPAT.
    struct.pack_into("<IIHHHHHHIIIIHH", headers, opt + 32, _SECTION_RVA, _FILE_ALIGN, 6, 0, 0, 0,
                     6, 0, 0, 2 * _SECTION_RVA, _FILE_ALIGN, 0, 3, 0x0140)
    # Stack/heap reserve and commit, loader flags, 16 data directories.
    struct.pack_into("<QQQQII", headers, opt + 72, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    directories = opt + 112
    struct.pack_into("<II", headers, directories + 0 * 8, _SECTION_RVA, exports_size)  # exports
    struct.pack_into("<II", headers, directories + 5 * 8, _SECTION_RVA + reloc_at, 8)  # base relocs
    section = opt + 0xF0
    headers[section:section + 8] = b".rdata\0\0"
    # VirtualSize, VirtualAddress, SizeOfRawData, PointerToRawData, ..., INITIALIZED_DATA | READ.
    struct.pack_into("<IIIIIIHHI", headers, section + 8, _FILE_ALIGN, _SECTION_RVA, _FILE_ALIGN,
                     _FILE_ALIGN, 0, 0, 0, 0, 0x40000040)
    return bytes(headers + body)
