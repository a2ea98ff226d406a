"""The image store: content-addressed, atomic, idempotent, with thumbnails."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import threading

import pytest
from PIL import Image

from lib.errors import InvalidInput
from lib.store import images as images_module
from lib.store.images import ImageStore, THUMB_MAX_PX

from .helpers import jpeg, png, thumbnails_drawn


@pytest.fixture
def store(tmp_path):
    return ImageStore(tmp_path / "data")


def visible_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_same_bytes_same_address_one_file(store):
    data = png()
    first, second = store.put(data), store.put(data)
    assert first == second
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    assert store.path(first.sha256) == store.root / "images" / first.sha256[:2] / f"{first.sha256}.png"
    assert store.read(first.sha256) == data
    assert len(list((store.root / "images").rglob("*.*"))) == 1


def test_extension_and_size_come_from_the_real_format(store):
    ref = store.put(jpeg(300, 200))
    assert (ref.ext, ref.mime, ref.width, ref.height) == ("jpg", "image/jpeg", 300, 200)
    assert store.path(ref.sha256).suffix == ".jpg"
    assert ref.size_bytes == store.path(ref.sha256).stat().st_size


def test_different_images_get_different_files(store):
    a, b = store.put(png(colour=(1, 2, 3, 255))), store.put(png(colour=(3, 2, 1, 255)))
    assert a.sha256 != b.sha256
    assert store.exists(a.sha256) and store.exists(b.sha256)


def test_thumbnail_is_small_and_a_usable_data_url(store):
    ref = store.put(png(1024, 512))
    url = store.thumbnail_data_url(ref.sha256)
    assert url.startswith("data:image/webp;base64,")
    thumb = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert max(thumb.size) <= THUMB_MAX_PX
    assert thumb.size == (160, 80)  # aspect kept


def test_missing_thumbnail_is_rebuilt(store):
    ref = store.put(png())
    thumb_file = store.thumbs_dir / ref.sha256[:2] / f"{ref.sha256}.webp"
    store.thumbnail(ref.sha256)  # drawn after the put: wait for it, then lose it
    thumb_file.unlink()
    assert store.thumbnail_data_url(ref.sha256).startswith("data:image/webp")
    assert thumb_file.exists()


def test_a_put_does_not_wait_for_its_thumbnail_and_readers_and_deletes_do(store, monkeypatch):
    drawing, may_finish = threading.Event(), threading.Event()
    real_make = images_module.make_thumbnail

    def slow_make(image):
        drawing.set()
        assert may_finish.wait(10)
        return real_make(image)

    monkeypatch.setattr(images_module, "make_thumbnail", slow_make)
    ref = store.put(png(300, 200))  # returns while its thumbnail is still being drawn
    assert drawing.wait(10) and store.read(ref.sha256) == png(300, 200)
    assert store.put(png(300, 200)) == ref  # the same bytes again: nothing drawn twice
    read = []
    reader = threading.Thread(target=lambda: read.append(store.thumbnail_data_url(ref.sha256)))
    reader.start()
    reader.join(0.2)
    assert reader.is_alive()  # waits for the drawing instead of drawing its own
    may_finish.set()
    reader.join(10)
    assert read[0].startswith("data:image/webp;base64,")

    second = store.put(png(400, 100))
    assert store.delete(second.sha256) is True  # waits for its thumbnail, so none is left behind
    assert not (store.thumbs_dir / second.sha256[:2] / f"{second.sha256}.webp").exists()


def test_held_thumbnails_are_drawn_when_let_go_or_by_a_reader(store):
    with images_module.thumbnails_held():
        first, second, third = store.put(png(300, 200)), store.put(png(200, 300)), store.put(png(100, 100))
        thumbs = {ref.sha256: store.thumbs_dir / ref.sha256[:2] / f"{ref.sha256}.webp" for ref in (first, second, third)}
        thumbnails_drawn()
        assert not any(path.exists() for path in thumbs.values())  # nothing drawn while held
        assert store.thumbnail_data_url(first.sha256).startswith("data:image/webp")  # a reader does not wait for it
        assert store.delete(second.sha256) is True  # a held one of a deleted picture is dropped
    thumbnails_drawn()
    assert thumbs[first.sha256].exists() and not thumbs[second.sha256].exists() and thumbs[third.sha256].exists()


def test_not_an_image_is_refused_and_nothing_is_written(store):
    with pytest.raises(InvalidInput, match="not an image"):
        store.put(b"%PDF-1.4 definitely not a picture")
    assert not store.root.exists() or visible_files(store.root) == []


def test_crash_mid_write_leaves_no_partial_file(store, monkeypatch):
    data = png(512, 512)
    sha = hashlib.sha256(data).hexdigest()

    def power_cut(fd):
        raise OSError(5, "Input/output error")  # the bytes are written but never made durable

    monkeypatch.setattr(images_module.os, "fsync", power_cut)
    with pytest.raises(Exception):
        store.put(data)
    assert not store.exists(sha)
    assert visible_files(store.root) == []  # no partial image and no temp file left behind

    monkeypatch.undo()
    ref = store.put(data)
    assert store.read(ref.sha256) == data


def test_readers_never_see_a_half_written_file(store, monkeypatch):
    """While a write is in progress the final name does not exist yet; afterwards it is complete."""
    data = png(256, 256)
    sha = hashlib.sha256(data).hexdigest()
    seen_during_write = []
    real_fsync = os.fsync

    def look_then_fsync(fd):
        seen_during_write.append(store.exists(sha))
        real_fsync(fd)

    monkeypatch.setattr(images_module.os, "fsync", look_then_fsync)
    store.put(data)
    assert seen_during_write[0] is False  # the image's own fsync (the thumbnail's comes after)
    assert store.read(sha) == data


def test_concurrent_puts_of_the_same_bytes(store):
    data = png(200, 200)
    refs, errors = [], []

    def put():
        try:
            refs.append(ImageStore(store.root).put(data))  # separate instances, like separate processes
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.sha256 for r in refs}) == 1 and len(refs) == 16
    assert [f for f in visible_files(store.root) if f.startswith("images/")] == [f"images/{refs[0].sha256[:2]}/{refs[0].sha256}.png"]
    assert store.read(refs[0].sha256) == data


def test_delete_removes_image_and_thumbnail(store):
    ref = store.put(png())
    assert store.delete(ref.sha256) is True
    assert not store.exists(ref.sha256)
    assert visible_files(store.root) == []
    assert store.thumbnail_data_url(ref.sha256) is None
    assert store.delete(ref.sha256) is False


def test_odd_sha_strings_do_not_touch_the_file_system(store):
    assert store.exists("../../etc/passwd") is False
    with pytest.raises(FileNotFoundError):
        store.path("*")


def test_a_cut_off_picture_is_refused_and_leaves_no_file_not_even_the_one_staged_while_it_was_checked(store):
    from lib.imaging import BrokenPicture

    whole = png(512, 512)
    with pytest.raises(BrokenPicture):
        store.put(whole[: len(whole) // 2])
    assert not store.root.exists() or visible_files(store.root) == []  # hidden temp files count too
    assert store.read(store.put(whole).sha256) == whole
