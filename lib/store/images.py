"""Image files on disk, named by the sha256 of their bytes, written atomically, each with a small thumbnail.

Layout under the data dir: ``images/ab/<sha>.<ext>`` (``ext`` from the real format,
not from a file name) and ``thumbs/ab/<sha>.webp``.  Everything that touches the
file system goes through ``ImageStore``; ``lib.store.s3.S3ImageStore`` keeps the same
layout in a bucket (``STUDIO_STORAGE_URL=s3://bucket/prefix``) with the same methods.
A picture that is gone reads as ``PictureMissing`` ("no longer available"), in words.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from lib import imaging
from lib.errors import InvalidInput, StudioError

THUMB_MAX_PX = 160
THUMB_FORMAT, THUMB_EXT, THUMB_MIME = "WEBP", "webp", "image/webp"

# Pillow format name -> (file extension, mime type)
_FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
    "BMP": ("bmp", "image/bmp"),
    "TIFF": ("tiff", "image/tiff"),
}


class StoreUnavailable(StudioError):
    """The data dir cannot be used (missing permission, full disk, not a directory)."""


MISSING_MESSAGE = "This picture is no longer available (it was deleted from the store)."


class PictureMissing(StudioError, FileNotFoundError):
    """A row names a picture the store no longer has (deleted with another row, or removed by hand)."""

    def __init__(self, sha: str) -> None:
        super().__init__(MISSING_MESSAGE, code="picture_missing", detail=f"image {sha[:12]}")


@dataclass(frozen=True)
class ImageRef:
    """One stored image: its address (``sha256``) and what it is."""

    sha256: str
    ext: str
    mime: str
    width: int
    height: int
    size_bytes: int


def _write_atomically(target: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``target`` so that readers see either nothing or the whole file.

    ``durable`` (fsync before the rename) is for what cannot be made again; a thumbnail is rebuilt from its
    picture when a crash leaves it missing or empty, and an fsync costs 5-40 ms here, on the path of every result."""
    _publish(_stage(target, data, durable=durable), target)


def _stage(target: Path, data: bytes, *, durable: bool = True) -> str:
    """``data`` in a hidden temporary file beside ``target`` (readers skip dot files); its path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _publish(tmp: str, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# A picture's bytes are written and fsync'd here while its thread decodes it for the check and the thumbnail:
# the two overlap (the fsync waits on the disk, the decode on the CPU) instead of adding up on every result.
_staging = ThreadPoolExecutor(max_workers=4, thread_name_prefix="image-write")


# Thumbnails are drawn here, after their picture is checked and stored: a result's row is settled and its cell
# shown without waiting for one (drawing and encoding it took 2-3 ms of the interpreter per picture, on the path of
# every result).  While ``thumbnails_held()`` is held they wait, and are drawn when the last holder lets go.
# ``thumbnail()`` waits for one being drawn (or draws a held one itself) and ``delete()`` for one being drawn (a
# held one is dropped); one lost in a crash is drawn again when it is first asked for.
_thumbnails = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thumbnails")
_THUMBS_QUEUED_MAX = 64  # past this many waiting, a put draws its own (each holds its pixels, at most ~0.5 MB, or the bytes it was given)
_drawing_lock = threading.Lock()
_drawing: dict[str, "_Drawing"] = {}  # thumbnail address -> its drawing, until drawn
_holders = 0  # thumbnails_held() entered and not yet left


class _Drawing:
    """One thumbnail to draw and save; ``sent`` once it is on the thumbnails thread."""

    def __init__(self, address: str, draw) -> None:
        self.address, self.draw, self.sent = address, draw, None

    def send(self) -> None:
        self.sent = _thumbnails.submit(self.run)

    def run(self) -> None:
        try:
            self.draw()
        except Exception:  # noqa: BLE001  (thumbnail() draws it again when it is asked for)
            pass
        finally:
            with _drawing_lock:
                if _drawing.get(self.address) is self:
                    del _drawing[self.address]


@contextmanager
def thumbnails_held():
    """Hold the drawing of thumbnails while results that arrive together are checked and recorded (a Compare run):
    drawing them meanwhile took the interpreter from the results still waiting for it.  Re-entrant, any thread."""
    global _holders
    with _drawing_lock:
        _holders += 1
    try:
        yield
    finally:
        with _drawing_lock:
            _holders -= 1
            if _holders == 0:
                for drawing in _drawing.values():
                    if drawing.sent is None:
                        drawing.send()


def thumbnails_drawn() -> None:
    """Wait until every thumbnail sent to the thumbnails thread so far is drawn and saved (benchmarks, tests)."""
    _thumbnails.submit(lambda: None).result(timeout=60)


def _discard(staged: Future) -> None:
    try:
        _unlink(staged.result())
    except OSError:
        pass


def _thumbnail_pixels(image: Image.Image) -> Image.Image:
    """``image`` as RGB(A), box-filtered to under twice ``THUMB_MAX_PX`` (a new image when anything was done)."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    factor = max(image.size) // THUMB_MAX_PX
    return image.reduce(factor) if factor >= 2 else image


def make_thumbnail(image: Image.Image) -> bytes:
    """A WebP no larger than ``THUMB_MAX_PX`` on its long side; transparency kept; ``image`` itself is not changed."""
    small = _thumbnail_pixels(image)
    thumb = small.copy() if small is image else small
    thumb.thumbnail((THUMB_MAX_PX, THUMB_MAX_PX))
    out = io.BytesIO()
    thumb.save(out, THUMB_FORMAT, quality=70, method=2)  # method 4 takes ~1 ms more per image for 3-6 % fewer bytes
    return out.getvalue()


class ImageStore:
    """Content-addressed image files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.images_dir = self.root / "images"
        self.thumbs_dir = self.root / "thumbs"
        self._paths: dict[str, Path] = {}  # sha -> path, so lookups don't glob every time
        self._lock = threading.Lock()

    # --- writing -----------------------------------------------------------
    def put(self, data: bytes) -> ImageRef:
        """Store ``data`` (an image Pillow can read) and its thumbnail; same bytes, same file, no rewrite.

        A cut-off, corrupt or oversized picture raises ``lib.imaging.BrokenPicture`` before anything is written.
        """
        if not data:
            raise InvalidInput("The image is empty (0 bytes).")
        sha = hashlib.sha256(data).hexdigest()
        try:
            image = Image.open(io.BytesIO(data))  # reads the header only
            ext, mime = _FORMATS.get(image.format or "", ((image.format or "bin").lower(), Image.MIME.get(image.format or "", "application/octet-stream")))
            ref = ImageRef(sha, ext, mime, image.width, image.height, len(data))
            has_image, has_thumb = self._has(sha, ext)
            if has_image and has_thumb:
                return ref  # stored before: the bytes are the address, nothing to check or write
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise InvalidInput(f"This file is not an image this app can read ({type(exc).__name__}). Use PNG, JPEG or WebP.") from exc
        staged = None if has_image else self._stage(ref, data)
        try:
            with imaging.decode_slot():
                # The one check that the whole file decodes, within the pixel budget (imaging.verify_picture). When
                # it decoded the pixels, cut down to a few hundred px while the slot is held they are all the
                # thumbnail needs; a PNG checked without decoding is decoded when its thumbnail is drawn.
                picture = imaging.verify_picture(data)
                small = None if has_thumb or picture is None else _thumbnail_pixels(picture)
                del picture
        except BaseException:
            if staged is not None:
                self._unstage(staged)
            raise
        self._save(ref, staged)
        if not has_thumb:
            self._draw_thumbnail(sha, small, data)
        return ref

    def _draw_thumbnail(self, sha: str, small: Image.Image | None, data: bytes) -> None:
        """Draw and save the thumbnail on the thumbnails thread (here, when many are waiting), from ``small`` or,
        without it, from the picture's bytes (the caller's own object, not a copy)."""
        def draw() -> None:
            pixels = small
            if pixels is None:
                with imaging.decode_slot():
                    pixels = _thumbnail_pixels(imaging.decode_picture(data, fit_within=THUMB_MAX_PX))
            self._save_thumbnail(sha, make_thumbnail(pixels))

        drawing = _Drawing(self._thumb_address(sha), draw)
        with _drawing_lock:
            if drawing.address in _drawing:
                return  # the same bytes are being drawn already
            queued = len(_drawing) < _THUMBS_QUEUED_MAX
            if queued:
                _drawing[drawing.address] = drawing
                if _holders == 0:
                    drawing.send()
        if not queued:
            drawing.run()

    def _thumbnail_drawn(self, sha: str, *, draw_held: bool = True) -> None:
        """Wait for this picture's thumbnail if it is being drawn (so a reader or a delete comes after it); one held
        is drawn here (``draw_held``) or dropped."""
        with _drawing_lock:
            drawing = _drawing.get(self._thumb_address(sha))
            if drawing is not None and drawing.sent is None:
                del _drawing[drawing.address]
        if drawing is None:
            return
        if drawing.sent is not None:
            drawing.sent.result()
        elif draw_held:
            drawing.run()

    def _image_path(self, sha: str, ext: str) -> Path:
        return self.images_dir / sha[:2] / f"{sha}.{ext}"

    def _stage(self, ref: ImageRef, data: bytes):
        """Start writing the picture while it is checked: a hidden file, published by ``_save`` once whole."""
        return _staging.submit(_stage, self._image_path(ref.sha256, ref.ext), data)

    def _unstage(self, staged) -> None:
        _discard(staged)

    def _has(self, sha: str, ext: str) -> tuple[bool, bool]:
        """Whether the image and its thumbnail are stored (a thumbnail being drawn counts)."""
        return self._image_path(sha, ext).exists(), self._thumb_path(sha).exists() or self._being_drawn(sha)

    def _being_drawn(self, sha: str) -> bool:
        with _drawing_lock:
            return self._thumb_address(sha) in _drawing

    def _thumb_address(self, sha: str) -> str:
        return str(self._thumb_path(sha))

    def _save(self, ref: ImageRef, staged: Future | None) -> None:
        """Publish the staged picture (``None``: already there)."""
        sha = ref.sha256
        target = self._image_path(sha, ref.ext)
        if staged is not None:
            try:
                _publish(staged.result(), target)
            except OSError as exc:
                raise self._unsaved(exc) from exc
        with self._lock:
            self._paths[sha] = target

    def _save_thumbnail(self, sha: str, data: bytes) -> None:
        try:
            _write_atomically(self._thumb_path(sha), data, durable=False)
        except OSError as exc:
            raise self._unsaved(exc) from exc

    def _unsaved(self, exc: OSError) -> StoreUnavailable:
        return StoreUnavailable(
            f"Could not save an image under {self.root} ({exc.strerror or type(exc).__name__}). "
            "Check that STUDIO_DATA_DIR points to a writable folder with free space.")

    def delete(self, sha: str) -> bool:
        """Remove the image and its thumbnail; ``True`` if the image was there."""
        if _is_sha(sha):
            self._thumbnail_drawn(sha, draw_held=False)
        path = self._find(sha)
        with self._lock:
            self._paths.pop(sha, None)
        self._thumb_path(sha).unlink(missing_ok=True)
        if path is None:
            return False
        path.unlink(missing_ok=True)
        return True

    # --- reading -----------------------------------------------------------
    def exists(self, sha: str) -> bool:
        return self._find(sha) is not None

    def path(self, sha: str) -> Path:
        """Where the image with this sha lives (folder storage only); ``PictureMissing`` if it is not stored."""
        found = self._find(sha)
        if found is None:
            raise PictureMissing(sha)
        return found

    def read(self, sha: str) -> bytes:
        """The picture's bytes; ``PictureMissing`` (a ``FileNotFoundError``) when it is gone."""
        try:
            return self.path(sha).read_bytes()
        except FileNotFoundError as exc:
            raise PictureMissing(sha) from exc

    def image_source(self, sha: str) -> str | None:
        """What ``st.image`` shows this picture from without copying it through a replica's disk: here the
        file's path, in S3 a signed URL the browser fetches itself.  ``None`` when it is gone."""
        found = self._find(sha)
        return str(found) if found is not None else None

    def extension(self, sha: str) -> str | None:
        """The stored picture's file extension (``png``, ``jpg``...), ``None`` when it is gone."""
        found = self._find(sha)
        return found.suffix.lstrip(".") if found is not None else None

    def ref(self, sha: str) -> ImageRef:
        """The ``ImageRef`` of a stored image (reads its header)."""
        data = self.read(sha)
        with Image.open(io.BytesIO(data)) as image:
            ext, mime = _FORMATS.get(image.format or "", (self.extension(sha) or "bin", "application/octet-stream"))
            return ImageRef(sha, ext, mime, image.width, image.height, len(data))

    def thumbnail(self, sha: str) -> bytes:
        """The thumbnail's bytes, rebuilt from the image if the thumbnail went missing (or a crash left it empty)."""
        thumb = self._thumb_path(sha)
        if _is_sha(sha):
            self._thumbnail_drawn(sha)
        try:
            data = thumb.read_bytes()
            if data:
                return data
        except FileNotFoundError:
            pass
        with Image.open(self.path(sha)) as image:
            data = make_thumbnail(image)
        _write_atomically(thumb, data, durable=False)
        return data

    def thumbnail_data_url(self, sha: str) -> str | None:
        """A ``data:`` URL for ``st.column_config.ImageColumn``; ``None`` when the image is gone."""
        try:
            data = self.thumbnail(sha)
        except (FileNotFoundError, OSError):
            return None
        return f"data:{THUMB_MIME};base64," + base64.b64encode(data).decode("ascii")

    def all_shas(self) -> list[str]:
        """Every stored image's sha (for housekeeping and tests)."""
        return sorted(p.name.split(".", 1)[0] for p in self.images_dir.glob("??/*.*") if not p.name.startswith("."))

    # --- internals ---------------------------------------------------------
    def _thumb_path(self, sha: str) -> Path:
        return self.thumbs_dir / sha[:2] / f"{sha}.{THUMB_EXT}"

    def _find(self, sha: str) -> Path | None:
        if not _is_sha(sha):
            return None  # also keeps odd strings from walking the file system
        with self._lock:
            cached = self._paths.get(sha)
        if cached is not None and cached.exists():
            return cached
        for candidate in (self.images_dir / sha[:2]).glob(f"{sha}.*"):
            if not candidate.name.startswith("."):
                with self._lock:
                    self._paths[sha] = candidate
                return candidate
        return None


def _is_sha(sha: str) -> bool:
    return bool(sha) and len(sha) >= 3 and all(c in "0123456789abcdef" for c in sha)
