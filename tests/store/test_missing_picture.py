"""A row whose picture was deleted reads as "no longer available" on its card: never a traceback."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from lib.store import open_store, record_call

from .helpers import cfg, png
from .test_record_call import image_result


def card_app(data_dir: str, row_id: str) -> None:
    from lib.store import open_store
    from lib.ui.cards import result_card

    store, ledger = open_store(data_dir)
    result_card(ledger.get(row_id), store)


def test_a_card_whose_pictures_are_gone_says_so_and_keeps_the_facts(store_dir):
    row = record_call("generate", "generate", cfg(), image_result(png(colour=(1, 1, 1, 255)), png(colour=(2, 2, 2, 255))),
                      prompt="two kites", data_dir=store_dir)
    images, _ = open_store(store_dir)
    images.delete(row.output_refs[0])  # removed behind the ledger's back
    at = AppTest.from_function(card_app, args=(str(store_dir), row.id), default_timeout=30).run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any("picture is no longer available" in c for c in captions)
    assert len(at.image) == 1 and len(at.get("download_button")) == 1  # the other picture still shows
    assert any("two kites" in c for c in captions)
