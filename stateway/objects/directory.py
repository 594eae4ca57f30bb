"""An object store in a local directory: a bucket is a subdirectory of the root, a key a file's relative path."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from stateway.objects import NoSuchBucket, NoSuchKey, ObjectInfo

# Files being written (`put`) until they are renamed into place: never listed or read as objects.
_PARTIAL = ".stateway-partial-"


class DirectoryObjectStore:
    """`ObjectStore` on a directory. A bucket exists when its subdirectory does (create it to create the
    bucket); `put` creates the directories a key's slashes name. A key that would lead outside its bucket
    (`..`, an absolute path) names no object."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"DirectoryObjectStore({str(self.root)!r})"

    def _bucket(self, bucket: str) -> Path:
        if not bucket or bucket in (".", "..") or "/" in bucket or "\\" in bucket or bucket.startswith(_PARTIAL):
            raise NoSuchBucket(bucket)
        path = self.root / bucket
        if not path.is_dir():
            raise NoSuchBucket(bucket)
        return path

    def _path(self, bucket: str, key: str) -> Path | None:
        """The file of `key` in `bucket`, or None for a key that names no file there."""
        base = self._bucket(bucket)
        parts = key.split("/")
        if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts[:-1]) \
                or parts[-1] in ("", ".", "..") or parts[-1].startswith(_PARTIAL):
            return None
        return base.joinpath(*parts)

    def open(self, bucket: str, key: str) -> BinaryIO:
        path = self._path(bucket, key)
        if path is None or not path.is_file():
            raise NoSuchKey(key)
        try:
            return path.open("rb")
        except FileNotFoundError:  # removed meanwhile
            raise NoSuchKey(key) from None

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self._bucket(bucket)
        keys: list[str] = []
        for directory, subdirectories, files in os.walk(base):
            relative = Path(directory).relative_to(base).as_posix()
            start = "" if relative == "." else relative + "/"
            # Only directories that may hold keys with the prefix are walked.
            subdirectories[:] = [d for d in subdirectories
                                 if (start + d + "/").startswith(prefix) or prefix.startswith(start + d + "/")]
            keys.extend(start + name for name in files
                        if not name.startswith(_PARTIAL) and (start + name).startswith(prefix))
        for key in sorted(keys, key=lambda k: k.encode("utf-8")):
            info = self._info(base, key)
            if info is not None:
                yield info

    def put(self, bucket: str, key: str, body: bytes | Iterable[bytes]) -> ObjectInfo:
        path = self._path(bucket, key)
        if path is None:
            raise NoSuchKey(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written apart and renamed into place: a reader sees the old object or the new one, never half.
        fd, partial = tempfile.mkstemp(prefix=_PARTIAL, dir=path.parent)
        digest, size = hashlib.md5(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in (body,) if isinstance(body, bytes) else body:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        stat = path.stat()
        return ObjectInfo(key, size, f'"{digest.hexdigest()}"', stat.st_mtime_ns // 1_000_000)

    @staticmethod
    def _info(base: Path, key: str) -> ObjectInfo | None:
        path = base.joinpath(*key.split("/"))
        try:
            digest = hashlib.md5()
            with path.open("rb") as content:
                for block in iter(lambda: content.read(1 << 20), b""):
                    digest.update(block)
            stat = path.stat()
        except FileNotFoundError:  # removed meanwhile
            return None
        return ObjectInfo(key, stat.st_size, f'"{digest.hexdigest()}"', stat.st_mtime_ns // 1_000_000)
