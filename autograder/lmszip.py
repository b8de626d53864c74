"""Open an LMS zip even when some member names are not valid UTF-8.

A zip may flag a member's name as UTF-8 (general purpose bit 11) while its bytes are not. Python's
``zipfile`` then raises ``UnicodeDecodeError`` while reading the central directory, so one such name
would stop the collection of the whole class. :func:`open_lms_zip` finds those entries first, shows
``zipfile`` the archive with their flag cleared (in memory: the file is not changed), and names them,
so that the caller skips exactly those members with a reason.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

END = b"PK\x05\x06"
END64_LOCATOR = b"PK\x06\x07"
ENTRY = b"PK\x01\x02"
UTF8_FLAG = 0x800
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_ENTRY_FIXED = 46


def _central_directory(fp: BinaryIO) -> tuple[int, int]:
    """(offset, size) of the central directory, or (0, 0) if there is none to find (zipfile will say why)."""
    fp.seek(0, 2)
    size = fp.tell()
    tail_start = max(0, size - _END.size - 0xFFFF)
    fp.seek(tail_start)
    tail = fp.read()
    at = tail.rfind(END)
    if at < 0 or at + _END.size > len(tail):
        return 0, 0
    end = tail_start + at
    directory_size = _END.unpack_from(tail, at)[5]
    locator = end - 20
    if locator >= _END64.size:
        fp.seek(locator)
        if fp.read(4) == END64_LOCATOR:
            fp.seek(locator - _END64.size)
            record = fp.read(_END64.size)
            if len(record) == _END64.size:
                directory_size = _END64.unpack(record)[8]
                return locator - _END64.size - directory_size, directory_size
    return end - directory_size, directory_size


def _undecodable_entries(fp: BinaryIO) -> tuple[dict[int, bytes], list[bytes]]:
    """Patches clearing the UTF-8 flag of entries whose names are not UTF-8, and those raw names."""
    start, size = _central_directory(fp)
    if start < 0 or size <= 0:
        return {}, []
    fp.seek(start)
    directory = fp.read(size)
    patches, names, pos = {}, [], 0
    while pos + _ENTRY_FIXED <= len(directory) and directory[pos:pos + 4] == ENTRY:
        (flags,) = struct.unpack_from("<H", directory, pos + 8)
        name_length, extra_length, comment_length = struct.unpack_from("<3H", directory, pos + 28)
        raw = directory[pos + _ENTRY_FIXED:pos + _ENTRY_FIXED + name_length]
        if flags & UTF8_FLAG:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                patches[start + pos + 8] = struct.pack("<H", flags & ~UTF8_FLAG)
                names.append(raw)
        pos += _ENTRY_FIXED + name_length + extra_length + comment_length
    return patches, names


class _Patched:
    """A read-only file that reads as ``raw`` with a few bytes replaced (what zipfile needs of a file)."""

    def __init__(self, raw: BinaryIO, patches: dict[int, bytes]) -> None:
        self._raw, self._patches = raw, patches

    def read(self, n: int = -1) -> bytes:
        start = self._raw.tell()
        data = self._raw.read(n)
        end = start + len(data)
        if not any(start < offset + len(patch) and offset < end for offset, patch in self._patches.items()):
            return data
        patched = bytearray(data)
        for offset, patch in self._patches.items():
            for i, byte in enumerate(patch):
                if start <= offset + i < end:
                    patched[offset + i - start] = byte
        return bytes(patched)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()


@contextmanager
def open_lms_zip(archive: Path) -> Iterator[tuple[zipfile.ZipFile, dict[str, str]]]:
    """The open zip, and ``{member name as zipfile shows it: the name as the instructor can read it}``
    for every member whose name is not valid UTF-8 (skip those: their names mean nothing reliable)."""
    with open(archive, "rb") as raw:
        patches, names = _undecodable_entries(raw)
        raw.seek(0)
        source: BinaryIO = _Patched(raw, patches) if patches else raw  # type: ignore[assignment]
        undecodable = {zipfile.ZipInfo(name.decode("cp437")).filename: name.decode("utf-8", "backslashreplace") for name in names}
        with zipfile.ZipFile(source) as zf:  # type: ignore[arg-type]
            yield zf, undecodable
