"""Pictures in S3 (moto's real server on loopback): written only if absent, thumbnails beside, shown by signed
URL, nothing on the replica's disk, and a missing picture says so."""
from __future__ import annotations

import base64
import io
import threading
import urllib.request

import pytest
from PIL import Image

from lib.store import MISSING_MESSAGE, PictureMissing, StoreUnavailable, open_store, record_call
from lib.store.s3 import S3ImageStore
from tests.store_backends import use_s3

from .helpers import cfg, jpeg, png, thumbnails_drawn
from .test_record_call import image_result


@pytest.fixture
def bucket(s3_server, monkeypatch, tmp_path):
    url = use_s3(monkeypatch, s3_server)
    monkeypatch.delenv("STUDIO_DATABASE_URL", raising=False)
    return url


def test_pictures_and_thumbnails_live_in_the_bucket_and_nothing_on_disk(bucket, tmp_path):
    data_dir = tmp_path / "data"
    row = record_call("edit", "edit", cfg(), image_result(png(640, 320)), inputs=[jpeg()], data_dir=data_dir)
    images, ledger = open_store(data_dir)
    assert isinstance(images, S3ImageStore)
    sha = row.output_refs[0]
    thumbnails_drawn()
    keys = sorted(item["Key"] for item in images.client.list_objects_v2(Bucket=images.bucket)["Contents"])
    assert keys == sorted([f"studio/images/{sha[:2]}/{sha}.png", f"studio/thumbs/{sha[:2]}/{sha}.webp",
                           f"studio/images/{row.input_refs[0][:2]}/{row.input_refs[0]}.jpg",
                           f"studio/thumbs/{row.input_refs[0][:2]}/{row.input_refs[0]}.webp"])
    on_disk = [p.name for p in data_dir.rglob("*") if p.is_file()]
    assert not any(name.endswith((".png", ".jpg", ".webp")) for name in on_disk), on_disk  # only the SQLite ledger
    assert images.read(sha) == png(640, 320) and images.extension(sha) == "png" and images.ref(sha).width == 640
    thumb = Image.open(io.BytesIO(base64.b64decode(images.thumbnail_data_url(sha).split(",", 1)[1])))
    assert thumb.format == "WEBP" and max(thumb.size) == 160


def test_the_browser_fetches_a_picture_from_the_bucket_by_its_signed_url(bucket, tmp_path):
    images, _ = open_store(tmp_path / "data")
    ref = images.put(png(colour=(9, 80, 200, 255)))
    url = images.image_source(ref.sha256)
    assert url.startswith("http://127.0.0.1:") and "Signature" in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == png(colour=(9, 80, 200, 255))


def test_a_key_is_written_only_if_absent(bucket, tmp_path):
    images, _ = open_store(tmp_path / "data")
    data = png(colour=(1, 1, 1, 255))
    sent = []
    real_put = images.client.put_object
    images.client.put_object = lambda **kw: sent.append(kw) or real_put(**kw)
    ref = images.put(data)
    thumbnails_drawn()
    assert [kw["IfNoneMatch"] for kw in sent] == ["*", "*"]  # the picture and its thumbnail, both conditional
    before = images.client.head_object(Bucket=images.bucket, Key=sent[0]["Key"])["ETag"]
    images._save(ref, b"other bytes")  # a writer that raced past the existence check
    assert images.client.head_object(Bucket=images.bucket, Key=sent[0]["Key"])["ETag"] == before  # refused by S3, kept

    errors, start = [], threading.Barrier(6)

    def same_bytes():
        start.wait()
        try:
            images.put(png(colour=(7, 7, 7, 255)))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=same_bytes) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(images.all_shas()) == 2


def test_a_deleted_picture_reads_as_no_longer_available(bucket, tmp_path):
    images, ledger = open_store(tmp_path / "data")
    row = record_call("generate", "generate", cfg(), image_result(png()), data_dir=tmp_path / "data")
    sha = row.output_refs[0]
    assert images.delete(sha) and not images.exists(sha)
    with pytest.raises(PictureMissing) as missing:
        images.read(sha)
    assert missing.value.message == MISSING_MESSAGE
    assert images.image_source(sha) is None and images.thumbnail_data_url(sha) is None
    assert images.delete(sha) is False


def test_an_unusable_bucket_is_a_sentence(s3_server, monkeypatch, tmp_path):
    use_s3(monkeypatch, s3_server)
    monkeypatch.setenv("STUDIO_STORAGE_URL", "s3://no-such-bucket-here/x")
    with pytest.raises(StoreUnavailable, match="The picture bucket s3://no-such-bucket-here/x cannot be used"):
        open_store(tmp_path / "data")
    monkeypatch.setenv("STUDIO_STORAGE_URL", "s3://")
    with pytest.raises(StoreUnavailable, match="not of the form s3://bucket/prefix"):
        open_store(tmp_path / "other")
