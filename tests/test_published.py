"""`blockspec summary @swin_t` / `@vit_b16` give the published parameter counts exactly.

28,288,354 (Swin-T) and 86,567,656 (ViT-B/16) are the counts of the papers' models (and of
timm's `swin_tiny_patch4_window7_224` / `vit_base_patch16_224` at 1000 classes); they are
written here from the literature, not read from blockspec. The FLOPs of the same specs are
checked against torch's counter in test_flops_counter.py.
"""

from __future__ import annotations

import json

import pytest

from blockspec.cli import main

PUBLISHED = {
    "swin_t": 28_288_354,
    "swin_s": 49_606_258,
    "vit_s16": 22_050_664,
    "vit_b16": 86_567_656,
    # MONAI SwinUNETR(feature_size=48).swinViT; ViT(img_size=96, patch_size=16) less the
    # 12 x 1,536 parameters of its `norm_cross_attn` norms, which its forward never uses
    "monai_swin_encoder": 8_062_002,
    "monai_vit": 88_359_168 - 18_432,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_summary_gives_the_published_parameter_count(name: str, capsys) -> None:
    assert main(["summary", f"@{name}", "--json"]) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["params"] == PUBLISHED[name]


def test_summary_table_prints_the_count(capsys) -> None:
    assert main(["summary", "@swin_t"]) == 0
    assert "parameters: 28,288,354 trainable" in capsys.readouterr().out
