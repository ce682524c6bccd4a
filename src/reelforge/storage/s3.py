"""Media storage in an S3 (or S3-compatible: MinIO, moto, ...) bucket."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from reelforge.errors import ConfigError
from reelforge.storage.base import StorageNotFound, check_key

log = logging.getLogger(__name__)

MAX_PRESIGN_S = 7 * 24 * 3600  # SigV4 limit


def parse_s3_url(url: str) -> tuple[str, str]:
    """ "s3://bucket/optional/prefix" -> ("bucket", "optional/prefix/"); prefix "" if none."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(
            f"REELFORGE_STORAGE_URL: expected s3://bucket[/prefix], got {url!r}",
            param="REELFORGE_STORAGE_URL",
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"REELFORGE_STORAGE_URL: no query or fragment allowed, got {url!r}",
            param="REELFORGE_STORAGE_URL",
        )
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _addressing_style(bucket: str, endpoint_url: str | None) -> str:
    # Path style works with every S3-compatible server on any hostname, and with dotted bucket
    # names (which break TLS for virtual hosts). On AWS, virtual style gives presigned URLs on
    # the regional host (bucket.s3.<region>.amazonaws.com); "auto" would use the global one.
    return "path" if endpoint_url or "." in bucket else "virtual"


class S3Storage:
    """Objects live at `s3://bucket/<prefix><key>`. The bucket must already exist."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client: Any = None,
    ) -> None:
        import boto3
        import botocore.exceptions
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._botocore_exceptions = botocore.exceptions
        if client is None:
            config = Config(
                signature_version="s3v4",
                s3={"addressing_style": _addressing_style(bucket, endpoint_url)},
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
            )
            client = boto3.client(
                "s3", endpoint_url=endpoint_url, region_name=region, config=config
            )
        self.client = client
        self._check_bucket(endpoint_url)

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _check_bucket(self, endpoint_url: str | None) -> None:
        exc_mod = self._botocore_exceptions
        where = f" at {endpoint_url}" if endpoint_url else ""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except exc_mod.ClientError as exc:
            code = _error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise ConfigError(
                    f"REELFORGE_STORAGE_URL: S3 bucket {self.bucket!r} does not exist{where}",
                    param="REELFORGE_STORAGE_URL",
                ) from None
            raise ConfigError(
                f"REELFORGE_STORAGE_URL: cannot access S3 bucket {self.bucket!r}{where}: {code}",
                param="REELFORGE_STORAGE_URL",
            ) from None
        except exc_mod.NoCredentialsError:
            raise ConfigError(
                f"no AWS credentials for S3 bucket {self.bucket!r}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY",
                param="AWS_ACCESS_KEY_ID",
            ) from None
        except exc_mod.BotoCoreError as exc:
            raise ConfigError(
                f"REELFORGE_S3_ENDPOINT_URL: cannot reach S3 bucket {self.bucket!r}{where}: {exc}",
                param="REELFORGE_S3_ENDPOINT_URL",
            ) from None

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        # upload_file switches to multipart for big files; S3 makes the object visible at once.
        self.client.upload_file(
            str(path), self.bucket, self._key(key), ExtraArgs={"ContentType": content_type}
        )

    def open(self, key: str) -> BinaryIO:
        full = self._key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=full)
        except self._botocore_exceptions.ClientError as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise StorageNotFound(f"no stored object {key!r}", param="key") from None
            raise
        # botocore's StreamingBody is an io.IOBase with read(n), iteration and close().
        return cast(BinaryIO, response["Body"])

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except self._botocore_exceptions.ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        # DeleteObject succeeds for a missing key.
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def presigned_url(self, key: str, expires_s: int) -> str | None:
        if not 1 <= expires_s <= MAX_PRESIGN_S:
            raise ValueError(f"expires_s must be in 1..{MAX_PRESIGN_S}, got {expires_s}")
        url = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_s,
        )
        return str(url)
