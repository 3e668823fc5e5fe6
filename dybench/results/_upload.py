"""One submission: several files, or one archive of a run folder, read into memory as bytes.

An upload is a results JSON, optionally with lmms-eval's samples files (``*_samples_<task>.jsonl``), sent
as separate files or as one ``.zip`` / ``.tar`` / ``.tar.gz`` of the run folder. Names serve only to
tell the files apart (``*_results.json``, ``*_samples_<task>.jsonl``); no name or path from an upload is
ever used as a path, nothing is extracted to disk and nothing is executed. Archive members are read
into memory by name, their declared sizes checked before any byte is read and the read itself bounded
(a member that lies about its size is cut at the limit and refused); links, devices and folders are
never read; other files are listed as ignored.

A tar archive is decompressed by dybench, at most ``MAX_UPLOAD_BYTES`` plus ``_TAR_OVERHEAD`` bytes, and
its headers are checked before ``tarfile`` sees them: ``tarfile`` reads a GNU long name or a pax header
whole, whatever size it declares, and decompresses every byte of a member it skips.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from dybench.results._logged_samples import MAX_SAMPLES_BYTES, samples_task
from dybench.results._runs import MAX_RESULTS_BYTES, ResultsError

#: Everything in one upload together, after decompression (the files as sent are bounded the same).
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
#: Most entries an archive may list (a run folder holds a results file and a few samples files).
MAX_MEMBERS = 256
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
#: Largest GNU long-name / long-link or pax header accepted (a path is at most 4 KiB on Linux).
MAX_TAR_HEADER_BYTES = 64 * 1024
#: A tar archive's bytes beyond its files': headers and padding (512 bytes each, a few per file), the end.
_TAR_OVERHEAD = 1024 * 1024
#: A compressed tar's first bytes -> how to open it (``tarfile``'s ``r:*`` formats).
_COMPRESSED: dict[bytes, Callable[..., io.BufferedIOBase]] = {
    b"\x1f\x8b": gzip.open,
    b"BZh": bz2.open,
    b"\xfd7zXZ\x00": lzma.open,
}
_EXTENDED_HEADERS = {
    tarfile.GNUTYPE_LONGNAME: "GNU long-name",
    tarfile.GNUTYPE_LONGLINK: "GNU long-link",
    tarfile.XHDTYPE: "pax",
    tarfile.XGLTYPE: "pax global",
    tarfile.SOLARIS_XHDTYPE: "Solaris pax",
}
_NAME = "the upload"
#: What a damaged, encrypted or truncated archive raises while it is listed or read.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    OSError,
    RuntimeError,
    NotImplementedError,
    lzma.LZMAError,
)


@dataclass(frozen=True)
class Upload:
    """The files of one submission, as bytes."""

    results: bytes
    samples: dict[str, bytes]
    """Task -> the bytes of its samples file."""
    ignored: tuple[str, ...] = ()
    """Names of files that are neither (not read)."""


def read_upload(paths: Sequence[str | os.PathLike], names: Sequence[str] | None = None) -> Upload:
    """Read the uploaded files at ``paths`` (temporary copies; ``names``: what the sender called them,
    default the paths' own names) into one `Upload`; `ResultsError` says what is wrong with it."""
    names = list(names) if names is not None else [Path(p).name for p in paths]
    if not paths:
        raise _refused("no file; send a *_results.json with its *_samples_<task>.jsonl, or a .zip/.tar.gz of the run")
    sizes = [Path(p).stat().st_size for p in paths]
    if sum(sizes) > MAX_UPLOAD_BYTES:
        raise _refused(f"{sum(sizes):,} bytes in all; an upload may hold at most {MAX_UPLOAD_BYTES:,}")
    members: list[tuple[str, int, Callable[[int], bytes]]] = []
    for path, name in zip(paths, names, strict=True):
        if name.lower().endswith(ARCHIVE_SUFFIXES):
            if len(paths) > 1:
                raise _refused(f"{name} is an archive: send one archive, or the files themselves")
            members.extend(_archive_members(Path(path), name))
        else:
            members.append((name, Path(path).stat().st_size, _file_reader(Path(path))))
    return _collect(members)


def _collect(members: list[tuple[str, int, Callable[[int], bytes]]]) -> Upload:
    """Sort members into the results file and samples files, then read those (sizes checked first)."""
    results, samples, ignored = [], {}, []
    for name, size, read in members:
        base = PurePosixPath(name.replace("\\", "/")).name
        task = samples_task(base)
        if task is not None:
            if task in samples:
                raise _refused(f"two samples files for {task}; send one run")
            samples[task] = (base, size, read)
        elif base.endswith(".json") and not base.startswith("."):
            results.append((base, size, read))
        else:
            ignored.append(base)
    if len(results) > 1:
        named = [r for r in results if r[0].endswith("_results.json")]
        results = named if len(named) == 1 else results
    if len(results) != 1:
        found = ", ".join(r[0] for r in results) or "none"
        raise _refused(f"one results JSON per upload (lmms-eval's *_results.json); found {found}")
    total = results[0][1] + sum(s[1] for s in samples.values())
    if total > MAX_UPLOAD_BYTES:
        raise _refused(f"its files hold {total:,} bytes; an upload may hold at most {MAX_UPLOAD_BYTES:,}")
    return Upload(
        results=_bounded(*results[0], MAX_RESULTS_BYTES),
        samples={task: _bounded(*entry, MAX_SAMPLES_BYTES) for task, entry in sorted(samples.items())},
        ignored=tuple(ignored),
    )


def _bounded(name: str, size: int, read: Callable[[int], bytes], limit: int) -> bytes:
    """A member's bytes; refused before reading when it says it is larger than ``limit``, and after reading
    at most ``limit + 1`` bytes when it lied."""
    if size > limit:
        raise _refused(f"{name} is {size:,} bytes; the limit is {limit:,}")
    data = read(limit + 1)
    if len(data) > limit:
        raise _refused(f"{name} holds more than {limit:,} bytes; the limit is {limit:,}")
    return data


def _file_reader(path: Path) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        with open(path, "rb") as fh:
            return fh.read(n)

    return read


def _archive_members(path: Path, name: str) -> list[tuple[str, int, Callable[[int], bytes]]]:
    """``(member name, declared size, bounded reader)`` of each regular file in a zip or tar archive."""
    try:
        if name.lower().endswith(".zip"):
            archive = zipfile.ZipFile(path)
            infos = [i for i in archive.infolist() if not i.is_dir()]
            if len(infos) > MAX_MEMBERS:
                raise _refused(f"{name} lists {len(infos)} files; a run folder has a few (limit {MAX_MEMBERS})")
            entries = [(i.filename, i.file_size, _member_reader(i.filename, partial(archive.open, i))) for i in infos]
        else:
            tar = tarfile.open(fileobj=io.BytesIO(_tar_bytes(path, name)), mode="r:")
            entries, total = [], 0
            for n, member in enumerate(tar):  # stops at the first entry past a limit; never extracts
                if n >= MAX_MEMBERS:
                    raise _refused(f"{name} lists over {MAX_MEMBERS} entries; send the run folder only")
                if member.isfile():  # links, devices and folders are never read
                    total += member.size
                    if total > MAX_UPLOAD_BYTES:
                        raise _refused(f"{name} unpacks to over {MAX_UPLOAD_BYTES:,} bytes (the limit)")
                    reader = _member_reader(member.name, partial(tar.extractfile, member))
                    entries.append((member.name, member.size, reader))
    except _ARCHIVE_ERRORS as e:
        raise _refused(f"{name}: not a readable archive ({type(e).__name__}); send a .zip or .tar.gz") from None
    return entries


def _tar_bytes(path: Path, name: str) -> bytes:
    """The tar archive at ``path``, decompressed (gzip, bzip2, xz or none, by its first bytes) into memory, its
    headers checked as they arrive (`_check_tar_headers`), at most the size an upload may unpack to."""
    with open(path, "rb") as start:
        magic = start.read(6)
    opener: Callable[..., io.BufferedIOBase] = next((o for m, o in _COMPRESSED.items() if magic.startswith(m)), open)
    limit = MAX_UPLOAD_BYTES + _TAR_OVERHEAD
    data = bytearray()
    with opener(path, "rb") as fh:

        def fill(size: int) -> None:
            """Read on until ``data`` holds ``size`` bytes or the archive ends; refused past the limit."""
            while len(data) < size and (chunk := fh.read(min(1 << 20, limit + 1 - len(data)))):
                data.extend(chunk)
                if len(data) > limit:
                    raise _refused(
                        f"{name} unpacks to over {limit:,} bytes; an upload may hold at most {MAX_UPLOAD_BYTES:,}"
                    )

        _check_tar_headers(data, fill, name)
        fill(limit + 1)  # what follows the end-of-archive blocks
    return bytes(data)


def _check_tar_headers(data: bytearray, fill: Callable[[int], None], name: str) -> None:
    """Walk the tar headers as ``tarfile`` will, reading the archive (``fill``) only as far as the next header:
    refuse an extended header (long name, pax) larger than ``MAX_TAR_HEADER_BYTES`` and more than
    ``MAX_MEMBERS`` entries (each may come with an extended header)."""
    offset, entries = 0, 0
    while True:
        fill(offset + tarfile.BLOCKSIZE)
        block = bytes(data[offset : offset + tarfile.BLOCKSIZE])
        if len(block) < tarfile.BLOCKSIZE or block == tarfile.NUL * tarfile.BLOCKSIZE:
            return  # the end of the archive (tarfile itself reports one cut short)
        info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")  # a HeaderError: not readable
        entries += 1
        if entries > 2 * MAX_MEMBERS:
            raise _refused(f"{name} lists over {MAX_MEMBERS} entries; send the run folder only")
        kind = _EXTENDED_HEADERS.get(info.type)
        if kind and info.size > MAX_TAR_HEADER_BYTES:
            raise _refused(
                f"{name}: a {kind} header of {info.size:,} bytes (at most {MAX_TAR_HEADER_BYTES:,}); "
                "send a plain .tar.gz of the run folder"
            )
        has_data = kind or info.type in tarfile.REGULAR_TYPES or info.type not in tarfile.SUPPORTED_TYPES
        offset += tarfile.BLOCKSIZE + (-(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE if has_data else 0)


def _member_reader(name: str, open_member: Callable[[], IO[bytes] | None]) -> Callable[[int], bytes]:
    """A bounded reader of one archive member (zip or tar); a member that cannot be read is refused by name."""

    def read(n: int) -> bytes:
        try:
            fh = open_member()
            if fh is None:
                return b""
            with fh:
                return fh.read(n)
        except _ARCHIVE_ERRORS as e:
            raise _refused(f"{name}: cannot be read from the archive ({type(e).__name__})") from None

    return read


def _refused(issue: str) -> ResultsError:
    return ResultsError(_NAME, [issue])
