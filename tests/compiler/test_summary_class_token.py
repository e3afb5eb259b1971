"""The summary of a class-token network says that its stage rows are the token row."""

from __future__ import annotations

import blockspec as bs


def test_summary_names_the_token_row() -> None:
    table = bs.summary("@vit_s16").table()
    # 224 / 16 = 14 patches a side: 196 pixels and the class token
    assert "class token: the stem and the stages show the row [C, 1, 1, 197]" in table
    assert "(the token and 196 pixels); the network returns maps." in table


def test_no_class_token_no_note() -> None:
    assert "class token" not in bs.summary("@swin_t").table()
