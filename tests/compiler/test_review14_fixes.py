"""Regressions of the review of issue 14's keys: a class token with a final downsample, a
stage nobody reads (`outputs = stage_inputs`), `norm_eps = none`, follow-on "missing key"
errors, an idle `rel_pos_table`, and the window hint's mention of `window_padding`."""

from __future__ import annotations

import pytest
import torch

import blockspec as bs
from blockspec.api import OverrideText
from blockspec.errors import SpecError, SpecWarning

INP = "input { channels = 1, D = 1, H = 32, W = 32 }\n"
CT_STEM = "stem { patch = [4, 4, 1], channels = 16, class_token = true }\n"
CT_CELL = (
    "cell { window = [1, 1, 1], heads = 4, attention = lin, mixer = lin, "
    "norm = channel_layer, rel_pos_bias = false }\n"
)


def errors(text: str, overrides: dict | None = None) -> list[SpecError]:
    with pytest.raises(SpecError) as info:
        bs.parse(text, overrides)
    return info.value.errors or [info.value]


def at(text: str, err: SpecError) -> str:
    """The source text from the error's column on."""
    assert err.span is not None
    return text.splitlines()[err.span.line - 1][err.span.column - 1 :]


# -- 2: a class token refuses final_downsample ---------------------------------------------


def test_a_class_token_refuses_final_downsample_at_the_key() -> None:
    bb = (
        'backbone soanet { channels = 16, stages = ["V2"], downsample = merge, '
        "final_downsample = true }\n"
    )
    text = INP + CT_STEM + CT_CELL + bb + "head classify { classes = 3, pool = token }\n"
    (err,) = errors(text)
    assert "class token" in err.message and "final_downsample" in err.message
    assert at(text, err).startswith("final_downsample = true")
    assert err.hint and "remove final_downsample" in err.hint
    bs.parse(text.replace(", final_downsample = true", ""))  # without it: fine


def _ct_net(bb: str, head: str = "") -> torch.nn.Module:
    text = INP + CT_STEM + CT_CELL + bb + head
    return bs.compile(bs.parse(text), seed=0).eval()


def test_a_class_token_with_stage_inputs_returns_the_stage_input_maps() -> None:
    """The token is dropped from each returned stage input: stage 0's is the stem's map."""
    bb = (
        'backbone soanet { channels = 16, stages = ["V2", "V2"], downsample = false, '
        "outputs = stage_inputs }\n"
    )
    m = _ct_net(bb)
    x = torch.randn(2, 1, 1, 32, 32)
    outs = m(x)
    row = m.stem(x)
    want0, _ = m.stem.split(row)
    want1, _ = m.stem.split(m.stage0(row))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 1, 8, 8)] * 2
    torch.testing.assert_close(outs[0], want0)
    torch.testing.assert_close(outs[1], want1)


def test_a_class_token_output_norm_norms_the_token_the_head_pools() -> None:
    """`output_norm` is per token (LayerNorm over C), so it norms the class token too, and
    `pool = token` reads the normed token (MONAI ViT: the final norm, then token 0)."""
    bb = (
        'backbone soanet { channels = 16, stages = ["V2"], downsample = false, '
        "output_norm = channel_layer }\n"
    )
    m = _ct_net(bb, "head classify { classes = 3, pool = token }\n")
    with torch.no_grad():
        m.outputs.norm0.weight.uniform_(0.5, 1.5)
        m.outputs.norm0.bias.uniform_(-1, 1)
    x = torch.randn(2, 1, 1, 32, 32)
    row = m.outputs.norm0(m.stage0(m.stem(x)))
    _, token = m.stem.split(row)
    torch.testing.assert_close(m(x), m.head.fc(token))


# -- 3: outputs = stage_inputs without final_downsample leaves the last stage unread ----------


def _dead(net) -> list[SpecWarning]:
    return [w for w in net.warnings if "nothing reads the output" in w.message]


def test_monai_encoder_without_final_downsample_warns_that_stage3_is_unread() -> None:
    net = bs.parse("@monai_swin_encoder", {"backbone.final_downsample": False})
    (w,) = _dead(net)
    assert "stage3" in w.message and w.span is not None and w.span.line == 32
    assert "final_downsample = true" in w.hint and "outputs = stage_outputs" in w.hint
    assert _dead(bs.parse("@monai_swin_encoder")) == []
    with pytest.raises(SpecWarning):
        bs.parse("@monai_swin_encoder", {"backbone.final_downsample": False}, strict=True)


def test_vit_with_stage_inputs_warns_that_the_logits_ignore_the_input() -> None:
    net = bs.parse("@vit_s16", {"backbone.outputs": OverrideText("stage_inputs")})
    (w,) = _dead(net)
    assert "stage0" in w.message and "do not depend on the input" in w.message
    assert "outputs = stage_outputs" in w.hint and "final_downsample = true" not in w.hint
    assert _dead(bs.parse("@vit_s16")) == []


def test_the_dead_backbone_really_ignores_the_input() -> None:
    """What the warning says: one stage, stage inputs, pool = token: constant logits."""
    bb = (
        'backbone soanet { channels = 16, stages = ["V2V2"], downsample = false, '
        "outputs = stage_inputs }\n"
    )
    text = INP + CT_STEM + CT_CELL + bb + "head classify { classes = 3, pool = token }\n"
    (w,) = _dead(bs.parse(text))
    m = bs.compile(bs.parse(text), seed=0).eval()
    torch.testing.assert_close(m(torch.randn(1, 1, 1, 32, 32)), m(torch.randn(1, 1, 1, 32, 32)))
    assert _dead(bs.parse(text.replace("stage_inputs", "stage_outputs"))) == []


# -- 7: norm_eps = none is torch's default, written in a cell, a stem, a head, an override --


def _eps(module: torch.nn.Module, path: str) -> float:
    return module.get_submodule(path).eps


EPS_BASE = (
    INP
    + "stem { patch = [4, 4, 1], channels = 16, norm = channel_layer, norm_eps = none }\n"
    + "cell { window = [4, 4, 1], heads = 4, norm_eps = 1e-6 }\n"
    + 'backbone soanet { channels = 16, stages = ["L1(norm_eps=none) L1", "L1"], '
    + "downsample = false, stage 1 { norm_eps = none } }\n"
    + "head classify { classes = 3, norm = channel_layer, norm_eps = none }\n"
)


def test_norm_eps_none_is_torchs_default_everywhere_it_is_written() -> None:
    m = bs.compile(bs.parse(EPS_BASE), seed=0)
    assert _eps(m, "stage0.cell0.norm1") == 1e-5  # the block call's none
    assert _eps(m, "stage0.cell1.norm1") == 1e-6  # cell { }
    assert _eps(m, "stage1.cell0.norm2") == 1e-5  # stage 1 { }
    assert _eps(m, "stem.norm") == 1e-5 and _eps(m, "head.norm") == 1e-5
    assert bs.parse(EPS_BASE).head.config.norm_eps is None


def test_norm_eps_none_as_an_override_restores_the_default() -> None:
    over = {"cell.norm_eps": OverrideText("none")}
    net = bs.parse(EPS_BASE, over)
    assert {c.config.norm_eps for c in net.cells()} == {None}
    again = bs.parse(net.text)  # the canonical text with the override applied
    assert again == net


def test_norm_eps_none_round_trips_through_the_printer() -> None:
    text = bs.format(EPS_BASE)
    assert text.count("norm_eps = none") == 3 and "norm_eps=none" in text
    assert bs.format(text) == text
    assert bs.parse(text) == bs.parse(EPS_BASE)


def test_a_bad_norm_eps_still_says_what_it_takes() -> None:
    text = EPS_BASE.replace("norm_eps = 1e-6", "norm_eps = nothing")
    (err,) = errors(text)
    assert "norm_eps must be a number" in err.message and "or none" in err.hint


# -- 8: a key whose value failed to evaluate is not "missing" ------------------------------


def test_a_dynamic_let_override_reports_once_not_as_missing_keys() -> None:
    errs = errors("@vit_b16", {"SIZE": OverrideText("?")})
    assert [e.message for e in errs] == ["'?' is only allowed in the input section"]


def test_a_failed_stages_value_is_not_reported_missing() -> None:
    text = "let S = 1 / 0\n" + INP + "backbone soanet { channels = 4, stages = S }\n"
    messages = [e.message for e in errors(text)]
    assert not any("missing" in m for m in messages), messages
    assert len(messages) == 1
    bare = INP + "backbone soanet { channels = 4 }\n"  # really missing: still said
    assert any("missing the key 'stages'" in e.message for e in errors(bare))
    nohw = "input { channels = 1, D = 1 }\n" + 'backbone soanet { stages = ["C2"] }\n'
    assert sum("missing the key" in e.message for e in errors(nohw)) == 2


# -- 14: an idle rel_pos_table warns; the window hint names window_padding where it pads -----

WIN_INP = "input { channels = 1, D = 1, H = 12, W = 12 }\n"


def test_rel_pos_table_without_a_bias_warns_at_the_key() -> None:
    text = (
        "input { channels = 1, D = 1, H = 16, W = 16 }\n"
        "cell { window = [8, 8, 1], heads = 4, rel_pos_table = written_window, "
        "rel_pos_bias = false }\n" + 'backbone soanet { channels = 16, stages = ["L1"] }\n'
    )
    (w,) = bs.parse(text).warnings
    assert "no effect" in w.message and "rel_pos_bias = false" in w.message
    assert at(text, w).startswith("written_window") and "rel_pos_bias = true" in w.hint
    assert bs.parse(text.replace("rel_pos_bias = false", "rel_pos_bias = true")).warnings == ()
    call = text.replace(", rel_pos_table = written_window", "").replace(
        '"L1"', '"L1(rel_pos_table=written_window)"'
    )
    assert len(bs.parse(call).warnings) == 1  # a block-call override warns too
    with pytest.raises(SpecWarning):
        bs.parse(text, strict=True)


def _window_hints(text: str) -> list[str]:
    return [e.hint for e in errors(text) if "does not divide the feature" in e.message]


def test_the_window_hint_offers_padding_on_the_padded_families() -> None:
    for code in ("L1", "S3"):
        text = WIN_INP + "cell { window = [8, 8, 1], heads = 4 }\n"
        text += f'backbone soanet {{ channels = 16, stages = ["{code}"] }}\n'
        hints = _window_hints(text)
        assert hints and all("window_padding = true" in h for h in hints), (code, hints)
        padded = text.replace("heads = 4", "heads = 4, window_padding = true")
        bs.parse(padded)  # the fix the hint gives works


def test_the_window_hint_never_offers_padding_to_g() -> None:
    text = WIN_INP + "cell { window = [8, 8, 1], heads = 4 }\n"
    text += 'backbone soanet { channels = 16, stages = ["G1"] }\n'
    assert all("window_padding" not in h for h in _window_hints(text))
    written = text.replace("heads = 4", "heads = 4, window_padding = true")
    hints = _window_hints(written)
    assert hints and all("window_padding does not pad G1 (only L, L3, S3, Sh)" in h for h in hints)
