"""Pictures in an S3 bucket (``STUDIO_STORAGE_URL=s3://bucket/prefix``): the folder store's layout and methods, no disk.

Keys: ``<prefix>/images/ab/<sha>.<ext>`` and ``<prefix>/thumbs/ab/<sha>.webp``, written only if
absent (a conditional put, ``If-None-Match: *``: the bytes are the address, so a second writer of the
same key has nothing to add).  Credentials, region and ``AWS_ENDPOINT_URL`` (S3-compatible servers)
come from the standard ``AWS_*`` variables, through boto3.  Pictures reach the browser by a signed
URL it fetches from the bucket itself, and thumbnails as ``data:`` URLs from memory: nothing of a
picture is written to a replica's disk.
"""
from __future__ import annotations

import base64
import io
import os
import threading
from urllib.parse import urlparse

from PIL import Image

from lib.errors import remember_storage_secret
from lib.store.images import (
    MISSING_MESSAGE, THUMB_EXT, THUMB_MIME, ImageRef, ImageStore, PictureMissing, StoreUnavailable, make_thumbnail,
)

SIGNED_URL_S = 3600  # how long a picture's link stays good: longer than a page stays open, unusually


class S3ImageStore(ImageStore):
    """Content-addressed pictures in ``s3://bucket/prefix``."""

    def __init__(self, url: str, client=None) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise StoreUnavailable(f"STUDIO_STORAGE_URL={url!r} is not of the form s3://bucket/prefix.")
        self.url = url
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.root = None  # no folder: nothing is kept on this machine
        self._lock = threading.Lock()
        self._extensions: dict[str, str] = {}  # sha -> ext seen: pictures never change, so it stays right
        self.client = client or _client()
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:  # noqa: BLE001  (no such bucket, no credentials, no server)
            raise StoreUnavailable(
                f"The picture bucket {url} cannot be used ({_said(exc)}). Check STUDIO_STORAGE_URL, the AWS_* "
                "credentials and, for an S3-compatible server, AWS_ENDPOINT_URL."
            ) from exc

    # --- keys --------------------------------------------------------------
    def _key(self, kind: str, sha: str, ext: str) -> str:
        return "/".join(p for p in (self.prefix, kind, sha[:2], f"{sha}.{ext}") if p)

    def _image_key(self, sha: str) -> str | None:
        """The picture's key, found by listing its sha's keys (one request; remembered)."""
        if not _is_sha(sha):
            return None
        with self._lock:
            ext = self._extensions.get(sha)
        if ext is not None:
            return self._key("images", sha, ext)
        listed = self._call(self.client.list_objects_v2, Bucket=self.bucket,
                            Prefix=self._key("images", sha, "")[:-1] + ".", MaxKeys=2)
        found = [item["Key"] for item in listed.get("Contents", [])]
        if not found:
            return None
        with self._lock:
            self._extensions[sha] = found[0].rsplit(".", 1)[-1]
        return found[0]

    # --- writing -----------------------------------------------------------
    def _has(self, sha: str, ext: str) -> tuple[bool, bool]:
        return (self._head(self._key("images", sha, ext)),
                self._being_drawn(sha) or self._head(self._key("thumbs", sha, THUMB_EXT)))

    def _thumb_address(self, sha: str) -> str:
        return f"s3://{self.bucket}/{self._key('thumbs', sha, THUMB_EXT)}"

    def _stage(self, ref: ImageRef, data: bytes) -> bytes:
        return data  # nothing is written before the picture is found whole: _save puts it

    def _unstage(self, staged: bytes) -> None:
        pass

    def _save(self, ref: ImageRef, data: bytes | None) -> None:
        if data is not None:
            self._put_if_absent(self._key("images", ref.sha256, ref.ext), data, ref.mime)
        with self._lock:
            self._extensions[ref.sha256] = ref.ext

    def _save_thumbnail(self, sha: str, data: bytes) -> None:
        self._put_if_absent(self._key("thumbs", sha, THUMB_EXT), data, THUMB_MIME)

    def _put_if_absent(self, key: str, data: bytes, mime: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=mime, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return  # someone stored the same bytes first: same address, same content
            raise self._unavailable(exc, "save a picture in") from exc
        except Exception as exc:  # noqa: BLE001
            raise self._unavailable(exc, "save a picture in") from exc

    def delete(self, sha: str) -> bool:
        if _is_sha(sha):
            self._thumbnail_drawn(sha, draw_held=False)
        key = self._image_key(sha)
        with self._lock:
            self._extensions.pop(sha, None)
        if _is_sha(sha):
            self._call(self.client.delete_object, Bucket=self.bucket, Key=self._key("thumbs", sha, THUMB_EXT))
        if key is None:
            return False
        self._call(self.client.delete_object, Bucket=self.bucket, Key=key)
        return True

    # --- reading -----------------------------------------------------------
    def exists(self, sha: str) -> bool:
        """Asks the bucket (a HEAD): another replica may have deleted it."""
        key = self._image_key(sha)
        if key is None:
            return False
        if self._head(key):
            return True
        with self._lock:
            self._extensions.pop(sha, None)
        return False

    def path(self, sha: str):
        """Pictures in a bucket have no local path; show them with ``image_source`` and read them with ``read``."""
        if not self.exists(sha):
            raise PictureMissing(sha)
        raise TypeError("Pictures in S3 have no local path: use image_source(), read() or thumbnail_data_url().")

    def read(self, sha: str) -> bytes:
        key = self._image_key(sha)
        if key is None:
            raise PictureMissing(sha)
        got = self._get(key)
        if got is None:
            raise PictureMissing(sha)
        return got

    def image_source(self, sha: str) -> str | None:
        key = self._image_key(sha)
        if key is None or not self._head(key):
            return None
        return self._call(self.client.generate_presigned_url, "get_object",
                          Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=SIGNED_URL_S)

    def extension(self, sha: str) -> str | None:
        key = self._image_key(sha)
        return key.rsplit(".", 1)[-1] if key else None

    def thumbnail(self, sha: str) -> bytes:
        if _is_sha(sha):
            self._thumbnail_drawn(sha)
        found = self._get(self._key("thumbs", sha, THUMB_EXT)) if _is_sha(sha) else None
        if found is not None:
            return found
        with Image.open(io.BytesIO(self.read(sha))) as image:
            data = make_thumbnail(image)
        self._put_if_absent(self._key("thumbs", sha, THUMB_EXT), data, THUMB_MIME)
        return data

    def thumbnail_data_url(self, sha: str) -> str | None:
        try:
            data = self.thumbnail(sha)
        except (FileNotFoundError, OSError, StoreUnavailable):
            return None
        return f"data:{THUMB_MIME};base64," + base64.b64encode(data).decode("ascii")

    def all_shas(self) -> list[str]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        start = "/".join(p for p in (self.prefix, "images") if p) + "/"
        for page in self._call(lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=start))):
            found += [item["Key"].rsplit("/", 1)[-1].split(".", 1)[0] for item in page.get("Contents", [])]
        return sorted(found)

    # --- S3 calls ----------------------------------------------------------
    def _head(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._unavailable(exc, "read") from exc
        except Exception as exc:  # noqa: BLE001
            raise self._unavailable(exc, "read") from exc

    def _get(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._unavailable(exc, "read") from exc
        except Exception as exc:  # noqa: BLE001
            raise self._unavailable(exc, "read") from exc

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise self._unavailable(exc, "use") from exc

    def _unavailable(self, exc: Exception, doing: str) -> StoreUnavailable:
        return StoreUnavailable(f"Could not {doing} the picture bucket {self.url} ({_said(exc)}).")


def _client():
    import boto3
    from botocore.config import Config

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    for secret in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):  # redacted wherever a message quotes them
        remember_storage_secret(os.environ.get(secret))
    config = Config(max_pool_connections=32, retries={"max_attempts": 3, "mode": "standard"},
                    s3={"addressing_style": "path" if endpoint else "auto"})  # an IP or localhost has no bucket subdomains
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config,
                                          region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")


def _is_sha(sha: str) -> bool:
    return bool(sha) and len(sha) >= 3 and all(c in "0123456789abcdef" for c in sha)


def _said(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message') or ''}".strip(": ")
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


__all__ = ["S3ImageStore", "MISSING_MESSAGE"]
