"""Originals and converted variants in an S3-compatible bucket (AWS S3, MinIO, Ceph),
shared by instances.

``s3://bucket/prefix`` stores image ``ref`` as the object ``prefix/originals/<ref>``
and its cached variants as ``prefix/variants/<ref>/<name>``.
Its record travels as the object's user metadata (``x-amz-meta-record``, JSON), in
the same request as the bytes: S3 makes an object visible only once its upload,
single or multipart, is complete, so a reader sees the whole image or nothing, and a
failed upload leaves nothing behind (an unfinished multipart upload is aborted).
This is the only module that imports boto3.
"""

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, Self, cast
from urllib.parse import urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..config import MIB, SettingsError
from ..exceptions import ImageNotFound, StorageUnavailable
from ..references import check_reference
from . import ImageRecord, verified_record

# Bodies above one part are sent in parts, at most two in flight per upload: memory
# stays bounded whatever the size of the image.
TRANSFER = TransferConfig(
    multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=2
)
# A store that is down should answer 503 within seconds, not hang a worker.
CLIENT = Config(
    connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3}
)
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
NO_BUCKET = frozenset({"NoSuchBucket", "403", "AccessDenied"})

log = logging.getLogger(__name__)


class _Bucket:
    """A client of one bucket, with the objects of interest under ``prefix``."""

    def __init__(
        self, bucket: str, prefix: str = "", endpoint: str | None = None
    ) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        # None lets boto3 find AWS_ENDPOINT_URL itself; credentials come from its
        # usual chain (environment, config files, instance roles).
        self.client = boto3.client("s3", endpoint_url=endpoint, config=CLIENT)
        self._check_bucket()

    @classmethod
    def from_url(
        cls, url: str, endpoint: str | None = None, setting: str = "PROGIMAGE_STORAGE"
    ) -> Self:
        """The client for ``s3://bucket/optional/prefix``, given by ``setting``.

        :raises SettingsError: the URL names no valid bucket, or the bucket is missing.
        """
        parts = urlsplit(url)
        if not BUCKET.fullmatch(parts.netloc) or parts.query or parts.fragment:
            raise SettingsError(
                f"{setting}={url!r} is not s3://bucket/optional/prefix "
                "with a valid bucket name"
            )
        # S3 keeps ``..`` in keys literally: such a prefix would not mean what it
        # says, and tools that map keys to paths would resolve it elsewhere.
        prefix = parts.path.removeprefix("/").removesuffix("/")
        if prefix and {"", ".", ".."} & set(prefix.split("/")):
            raise SettingsError(
                f"{setting}={url!r}: the prefix must not hold empty, '.' or '..' "
                "segments"
            )
        return cls(parts.netloc, prefix, endpoint)

    def _check_bucket(self) -> None:
        """Refuse to start on a missing bucket; an unreachable store is only logged.

        :raises SettingsError: the bucket does not exist or cannot be used.
        """
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            code = _code(error)
            if code in NOT_FOUND | NO_BUCKET:
                raise SettingsError(
                    f"the bucket {self.bucket!r} does not exist or is not ours ({code})"
                ) from None
            log.warning("bucket %s cannot be checked (%s)", self.bucket, code)
        except BotoCoreError as error:
            # The store may come up after us: /readyz says 503 until it does.
            log.warning("S3 store cannot be checked at start-up: %s", error)

    @contextlib.contextmanager
    def _translated(self, ref: str) -> Iterator[None]:
        """Turn boto errors into the domain's: missing objects, unavailable store.

        :raises ImageNotFound: the object does not exist.
        :raises StorageUnavailable: the store cannot be reached or refused the call.
        """
        try:
            yield
        except ClientError as error:
            code = _code(error)
            if code in NOT_FOUND:
                raise ImageNotFound(f"no image is stored under {ref}") from None
            raise StorageUnavailable(
                f"the S3 store refused the request ({code})"
            ) from None
        except BotoCoreError as error:
            log.warning("S3 request failed: %s", error)
            raise StorageUnavailable(
                f"the S3 store cannot be reached ({type(error).__name__})"
            ) from None


class S3Storage(_Bucket):
    """Originals as objects under ``prefix`` in ``bucket``."""

    def save(self, ref: str, data: BinaryIO, record: ImageRecord) -> None:
        """Upload the bytes, streamed in parts when large, with the record attached."""
        key = self._key(ref)
        extra = {
            "ContentType": record.mime,
            "Metadata": {"record": record.to_json().decode("ascii")},
        }
        with self._translated(ref):
            self.client.upload_fileobj(
                data, self.bucket, key, ExtraArgs=extra, Config=TRANSFER
            )

    def record(self, ref: str) -> ImageRecord:
        """The record, read from the object's metadata without fetching its bytes."""
        head = self._head(ref)
        record = head["Metadata"]["record"].encode()
        return verified_record(ref, record, head["ContentLength"])

    def update_record(self, ref: str, record: ImageRecord) -> None:
        """Copy the object onto itself with the new record: S3 replaces an object's
        metadata only so, at once, server side."""
        self._head(ref)
        key = self._key(ref)
        with self._translated(ref):
            self.client.copy_object(
                Bucket=self.bucket, Key=key,
                CopySource={"Bucket": self.bucket, "Key": key},
                Metadata={"record": record.to_json().decode("ascii")},
                MetadataDirective="REPLACE", ContentType=record.mime,
            )

    def open(self, ref: str, span: tuple[int, int] | None = None) -> BinaryIO:
        """The object's body: a stream read from the network as the caller reads.

        With ``span``, S3 is asked for those bytes only (a ranged GET).
        """
        ranged = {"Range": f"bytes={span[0]}-{span[1] - 1}"} if span else {}
        key = self._key(ref)
        with self._translated(ref):
            body = self.client.get_object(Bucket=self.bucket, Key=key, **ranged)
        return cast(BinaryIO, body["Body"])

    def local_path(self, ref: str) -> None:
        """None: a bucket has no files nginx could send."""
        return None

    def delete(self, ref: str) -> None:
        """Delete the object; S3 deletes silently, so its presence is checked first
        (a corrupt image can be deleted too)."""
        self._head(ref)
        with self._translated(ref):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(ref))

    def check(self) -> None:
        """Write a small probe object and delete it."""
        key = f"{self.prefix}probes/{uuid.uuid4()}"
        with self._translated(key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"probe")
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def _head(self, ref: str) -> dict:
        """The object's metadata and length, if it is an image.

        :raises ImageNotFound: there is no object, or it carries no record.
        """
        with self._translated(ref):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(ref))
        if "record" not in head["Metadata"]:
            raise ImageNotFound(f"no image is stored under {ref}")
        return head

    def abort_stale_uploads(self, age: float) -> list[str]:
        """Abort the multipart uploads of originals started over ``age`` seconds ago:
        a connection lost mid-upload leaves them, unseen but billed. Their keys.

        :raises StorageUnavailable: the store cannot be reached.
        """
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=age)
        aborted = []
        with self._translated("multipart uploads"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}originals/"
            )
            for upload in (item for page in pages for item in page.get("Uploads", [])):
                if upload["Initiated"] < cutoff:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"],
                        UploadId=upload["UploadId"],
                    )
                    aborted.append(upload["Key"])
        return aborted

    def _key(self, ref: str) -> str:
        """The object key of a reference, refusing anything but a canonical UUID."""
        return f"{self.prefix}originals/{check_reference(ref)}"


class S3Variants(_Bucket):
    """Converted variants as objects under ``prefix/variants/``, so that an image
    converted by one instance is served by every other without converting again.

    A variant is a cache entry, not data: when the store fails, a read is a miss and
    a write is skipped (both logged), and the request is served by converting. The
    bucket's lifecycle rules bound how long variants are kept (docs/deploy.md).
    """

    def get(self, ref: str, name: str) -> bytes | None:
        """The variant's bytes, or None when it is not in the bucket."""
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self._key(ref, name)
            )
            return response["Body"].read()
        except ClientError as error:
            if _code(error) not in NOT_FOUND:
                log.warning("shared variant %s/%s unreadable: %s", ref, name, error)
        except BotoCoreError as error:
            log.warning("shared variant %s/%s unreadable: %s", ref, name, error)
        return None

    def put(self, ref: str, name: str, data: bytes) -> None:
        """Store a variant; S3 shows the object only once it is whole."""
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(ref, name), Body=data
            )
        except (BotoCoreError, ClientError) as error:
            log.warning("shared variant %s/%s not stored: %s", ref, name, error)

    def purge(self, ref: str) -> None:
        """Delete every variant of ``ref``."""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(ref, "")
            )
            for page in pages:
                doomed = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if doomed:
                    self.client.delete_objects(
                        Bucket=self.bucket, Delete={"Objects": doomed, "Quiet": True}
                    )
        except (BotoCoreError, ClientError) as error:
            # Never served: a read checks the original first, and it is gone.
            log.warning("shared variants of %s not purged: %s", ref, error)

    def refs(self) -> list[str]:
        """The references that have variants in the bucket.

        :raises StorageUnavailable: the store cannot be reached.
        """
        folder = f"{self.prefix}variants/"
        with self._translated("variants"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder, Delimiter="/"
            )
            return [
                common["Prefix"][len(folder):].rstrip("/")
                for page in pages for common in page.get("CommonPrefixes", [])
            ]

    def _key(self, ref: str, name: str) -> str:
        return f"{self.prefix}variants/{check_reference(ref)}/{name}"


def _code(error: ClientError) -> str:
    """The S3 error code, such as ``NoSuchKey``, or the HTTP status for HEAD."""
    return str(error.response.get("Error", {}).get("Code", "unknown"))
