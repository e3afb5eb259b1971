"""Shrunk counterexamples found by the property tests and the fuzz campaign.

Fixed so far: dynamic U-Net/HR-Net upsampling (Sym * int), the dynamic minimum without
downsampling (validate.dynamic_steps), an empty channels list (resolve._channels).

A case the compiler or runtime still gets wrong is marked ``xfail(strict=True)`` with the bug;
flip the mark when it is fixed (strict: an unexpected pass fails the suite).
"""

from __future__ import annotations

import pytest

from blockspec.errors import SpecValueError
from blockspec.testing import NearMiss, SpecText
from blockspec.testing.properties import check_near_miss, check_parse_total, check_valid_spec


def _spec(text: str, backbone: str, dynamic: bool = False) -> SpecText:
    return SpecText(text, backbone, "2d", dynamic, (1, None, None), 1)


# Found by test_dynamic_specs_run_as_inferred: resolve multiplied ir.Sym by an int when
# sizing a U-Net/HR-Net upsampler (TypeError); fixed in the compiler (Sym.__mul__).
DYNAMIC_UNET = """\
input { channels = 1, D = 1, H = ?, W = 4 }
cell { window = [1, 1, 1], patch = [1, 1, 1], window_sizing = keep_window_size, heads = 1, rel_pos_bias = false }
backbone unet { channels = [2], levels = 1, blocks = ["L1"] }
"""  # noqa: E501

DYNAMIC_HRNET = """\
input { channels = 1, D = 1, H = ?, W = ? }
cell { window = [1, 1, 1], patch = [1, 1, 1], heads = 1, rel_pos_bias = false }
backbone hrnet { channels = 2, levels = 2, blocks = ["L1"] }
"""


@pytest.mark.parametrize(("text", "backbone"), [(DYNAMIC_UNET, "unet"), (DYNAMIC_HRNET, "hrnet")])
def test_dynamic_unet_hrnet_upsampling(text: str, backbone: str) -> None:
    check_valid_spec(_spec(text, backbone, dynamic=True))


# Found by the fuzzer (parse_random): the text "\r" alone. The end of the file is line 1,
# column 2 (a lone "\r" is a character, not a line break); the span is inside the text.
def test_lone_carriage_return() -> None:
    check_parse_total("\r")


# Found by the fuzzer (valid_dynamic). SEMANTICS.md "Dynamic sizes": valid sizes are the
# multiples of M that keep every map >= 2. With no downsampling, validate.dynamic_steps
# records minimum = 1 (`need = ... else 1`), so H = W = 1 is "valid", the runtime's size check
# accepts it, and InstanceNorm raises a torch ValueError ("Expected more than 1 spatial
# element") instead of the minimum being 2 (or a ShapeError).
DYNAMIC_NO_DOWNSAMPLING = """\
input { channels = 1, D = 1, H = ?, W = ? }
cell { window = [1, 1, 1], patch = [1, 1, 1], window_sizing = keep_window_size, heads = 1, rel_pos_bias = false }
backbone soanet { channels = [2], stages = ["L1"] }
"""  # noqa: E501


def test_dynamic_minimum_keeps_maps_at_least_2() -> None:
    import blockspec as bs

    net = bs.parse(DYNAMIC_NO_DOWNSAMPLING)
    assert net.input.minimum[1] >= 2 and net.input.minimum[2] >= 2, net.input
    check_valid_spec(_spec(DYNAMIC_NO_DOWNSAMPLING, "soanet", dynamic=True))


# Found by test_parse_total.py::test_overrides with overrides={"C": []} on `channels = C`:
# an empty channels list escapes as IndexError (resolve._channels pads an empty list with
# `chans[-1:] * n`, giving an empty tuple; the backbone then indexes it). Expected: a
# SpecValueError at the list (LANGUAGE.md: a bad value points at that value).
_EMPTY = """\
input {{ channels = 1, D = 1, H = 4, W = 4 }}
cell {{ window = [1, 1, 1], patch = [1, 1, 1], heads = 1 }}
backbone {bb} {{ channels = [], {rest} }}
"""


@pytest.mark.parametrize(
    ("bb", "rest"),
    [
        ("soanet", 'stages = ["L1"]'),
        ("unet", 'levels = 1, blocks = ["L1"]'),
        ("hrnet", 'levels = 1, blocks = ["L1"]'),
    ],
)
def test_empty_channels_list(bb: str, rest: str) -> None:
    text = _EMPTY.format(bb=bb, rest=rest)
    col = text.split("\n")[2].index("[]") + 1
    check_near_miss(NearMiss(text, SpecValueError, 3, col, "empty_channels"))


def test_empty_list_override() -> None:
    text = "let C = 4\n" + _EMPTY.format(bb="soanet", rest='stages = ["L1"]').replace(
        "channels = []", "channels = C"
    )
    check_parse_total(text, overrides={"C": []})


# Found by the fuzzer (parse_random): ".bspec" alone is a path for bs.parse (DESIGN.md: a
# one-line str ending in .bspec), so "no such spec file" has no span. Not a compiler bug; the
# property now parses such texts with a trailing newline.
def test_text_that_looks_like_a_path() -> None:
    check_parse_total(".bspec")
