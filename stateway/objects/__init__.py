"""The object store that distributed Maps read items from and write results to, in S3's terms.

A Map's `ItemReader` (`arn:aws:states:::s3:getObject`, `…:s3:listObjectsV2`) and `ResultWriter`
(`arn:aws:states:::s3:putObject`) name buckets and keys; the engine reads and writes them through an
`ObjectStore`. `DirectoryObjectStore` keeps them in a local directory: a bucket is a subdirectory of
its root, a key the path of a file below it. Another backend (an S3-compatible endpoint) implements the
same protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from stateway.asl.errors import StatewayError

__all__ = ["NoSuchBucket", "NoSuchKey", "ObjectInfo", "ObjectStore", "ObjectStoreError"]


class ObjectStoreError(StatewayError):
    """A request the object store refused, in S3's terms: its error code, HTTP status and message."""

    code = "InternalError"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoSuchBucket(ObjectStoreError):
    code = "NoSuchBucket"
    status = 404

    def __init__(self, bucket: str) -> None:
        super().__init__("The specified bucket does not exist")
        self.bucket = bucket


class NoSuchKey(ObjectStoreError):
    code = "NoSuchKey"
    status = 404

    def __init__(self, key: str) -> None:
        super().__init__("The specified key does not exist.")
        self.key = key


@dataclass(frozen=True)
class ObjectInfo:
    """One object's metadata as ListObjectsV2 gives it."""

    key: str
    size: int
    etag: str  # with its quotes, as S3 gives it: "\"d41d8cd98f00b204e9800998ecf8427e\""
    last_modified_ms: int
    storage_class: str = "STANDARD"


class ObjectStore(Protocol):
    """Buckets of objects by key. Every method raises `NoSuchBucket` for a bucket that does not exist."""

    def open(self, bucket: str, key: str) -> BinaryIO:
        """The object's content as a binary stream (the caller closes it); `NoSuchKey` if there is none."""
        ...

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """The bucket's objects whose keys begin with `prefix`, in ascending order of key (UTF-8 bytes)."""
        ...

    def put(self, bucket: str, key: str, body: bytes | Iterable[bytes]) -> ObjectInfo:
        """Store an object (replacing one of the same key) and return its metadata; a body given as chunks
        is written as they come, never held whole."""
        ...


def s3_cause(error: ObjectStoreError, request_id: str) -> str:
    """An object store's refusal in the words AWS's SDK uses for S3's (as a Task's error cause shows it)."""
    return (f"{error.message} (Service: S3, Status Code: {error.status}, Request ID: {request_id}, "
            f"Extended Request ID: {request_id})")
