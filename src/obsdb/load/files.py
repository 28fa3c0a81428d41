"""Finding archive files and opening them, compressed or not (recognised by magic bytes)."""

from __future__ import annotations

import gzip
import os
import stat as statmod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: File names obsdb reads. JSONL may be compressed; `.json` holds plain-JSON symbol lists.
SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".json.gz", ".json.zst")


@dataclass(frozen=True)
class Found:
    """A file to load, or a path that could not be used (``error`` says why)."""

    path: Path
    size: int = 0
    mtime_ns: int = 0
    inode: int = 0
    device: int = 0
    error: str | None = None

    @property
    def is_document(self) -> bool:
        """A plain-JSON document (symbol list), not JSONL."""
        name = self.path.name
        return name.endswith((".json", ".json.gz", ".json.zst"))


def _found(path: Path) -> Found:
    try:
        st = path.stat()
    except OSError as exc:
        return Found(path, error=f"cannot read: {exc.strerror or exc}")
    if statmod.S_ISDIR(st.st_mode):
        return Found(path, error="is a directory, not an archive file")
    if not statmod.S_ISREG(st.st_mode):
        return Found(path, error="not a regular file")
    return Found(path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def is_archive_name(name: str) -> bool:
    return name.endswith(SUFFIXES)


def discover(paths: Iterable[Path]) -> tuple[list[Found], int]:
    """Every archive file under ``paths`` (directories walked recursively, symlinks followed once),
    sorted by path; plus the number of other files ignored. Unusable paths come back with an error."""
    found: dict[Path, Found] = {}
    ignored = 0
    for root in paths:
        if not root.exists() and not root.is_symlink():
            found[root] = Found(root, error="no such file or directory")
            continue
        if not root.is_dir():
            found[root] = _found(root)
            continue
        seen_dirs: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=None):
            try:
                st = os.stat(dirpath)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:  # a symlink loop: walk each directory once
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames.sort()
            for name in filenames:
                path = Path(dirpath) / name
                if is_archive_name(name):
                    found[path] = _found(path)
                else:
                    ignored += 1
            for name in dirnames:
                if is_archive_name(name):  # a directory named like an archive: say so, then walk it
                    odd = Path(dirpath) / name
                    found[odd] = Found(odd, error="is a directory, not an archive file")
    return sorted(found.values(), key=lambda f: str(f.path)), ignored


class ByteStream(Protocol):
    """What the reader needs of a (decompressing) stream."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class Opened:
    """A decompressing stream over a file, and how far into the file (compressed bytes) it has read."""

    stream: ByteStream
    raw: BinaryIO
    compression: str

    def position(self) -> int:
        """Bytes of the file consumed so far (for progress: it counts against the file's size)."""
        try:
            return self.raw.tell()
        except (OSError, ValueError):  # closed
            return 0

    def close(self) -> None:
        self.stream.close()
        self.raw.close()  # GzipFile does not close a file object it was given


def open_archive(path: Path) -> Opened:
    """Open for reading, decompressing by content (magic bytes), not by file name."""
    raw = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by the caller: Opened.close
    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(GZIP_MAGIC):
        return Opened(gzip.GzipFile(fileobj=raw, mode="rb"), raw, "gzip")
    if magic == ZSTD_MAGIC:
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=1 << 20, closefd=True)
        return Opened(reader, raw, "zstd")
    return Opened(raw, raw, "none")
