"""The MONAI-encoder keys: SOANet `final_downsample`, `outputs`, `output_norm`; cell keys
`window_padding` and `rel_pos_table`. The compiler's promise (parameters per node, output
shapes, feature_info, FLOPs as torch's counter sees them) on parametrised specs, the runtime
semantics of padding and of the written table, and every misuse refused at its place."""

from __future__ import annotations

import pytest
import torch

import blockspec as bs
from blockspec.compiler import ir
from blockspec.compiler.outputs import feature_info, output_shapes
from blockspec.errors import ShapeError, SpecError, SpecValueError
from blockspec.runtime.attention.base import relative_position_index
from torch_flops import counted_flops


def own_params(model: torch.nn.Module, path: str, node_paths: set[str]) -> int:
    """Parameters of the module at `path`, without the IR nodes nested in it (stage{s}.down)."""
    mods = dict(model.named_modules())
    total = sum(p.numel() for p in mods[path].parameters())
    for other in node_paths:
        if other != path and other.startswith(path + "."):
            total -= sum(p.numel() for p in mods[other].parameters())
    return total


def rejects(text: str, cls: type[SpecError], needle: str, last: bool = False) -> SpecError:
    """The spec is refused with `cls` at the first (or `last`) `needle`, with a hint."""
    with pytest.raises(cls) as info:
        bs.parse(text)
    err = info.value
    i = text.rindex(needle) if last else text.index(needle)
    want = (text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1)
    assert (err.span.line, err.span.column) == want, str(err)
    assert err.hint
    return err


def soanet(
    stages: str = '["S3Sh", "S3Sh"]',
    inp: str = "D = 12, H = 12, W = 12",
    cell: str = "window = [5, 5, 5], window_padding = true",
    keys: str = "downsample = merge, downsample_depth = true",
    lin: bool = True,
) -> str:
    kinds = "attention = lin, mixer = lin, " if lin else ""
    return (
        f"input {{ channels = 2, {inp} }}\n"
        f"cell {{ heads = 2, {kinds}norm = channel_layer, dropout = 0.0, {cell} }}\n"
        f"backbone soanet {{ channels = 4, stages = {stages}, {keys} }}\n"
    )


CASES = {
    # MONAI's encoder: padding at 12 (window 5 -> 15) and 6 (-> 10), a final merge, inputs
    "monai": soanet(
        keys="downsample = merge, downsample_depth = true, final_downsample = true, "
        "outputs = stage_inputs, output_norm = channel_layer_plain"
    ),
    "affine_norms": soanet(
        keys="downsample = merge, downsample_depth = true, "
        "final_downsample = true, output_norm = channel_layer"
    ),
    # the window clamps to the 6^3 map of stage 1; the table stays the written window's
    "written_table": soanet(
        cell="window = [7, 7, 7], window_sizing = keep_window_size, window_padding = true, "
        "rel_pos_table = written_window",
        keys="downsample = merge, downsample_depth = true, outputs = stage_inputs",
    ),
    "stride_final": soanet(
        keys="downsample = stride, final_downsample = true, "
        "outputs = stage_inputs, output_norm = channel_layer"
    ),
    "local_2d": soanet(
        '["L1L1", "L0"]',
        "D = 2, H = 12, W = 10",
        "window = [5, 4, 1], patch = [1, 2, 1], window_padding = true",
        keys="downsample = merge",
    ),
    "local_3d_conv": soanet(
        '["L3"]',
        "D = 3, H = 6, W = 6",
        "window = [4, 4, 2], patch = [2, 2, 1], window_padding = true",
        keys="downsample = false, outputs = stage_inputs",
        lin=False,
    ),
    "no_downsample_inputs": soanet(
        '["S3", "Sh"]',
        keys="downsample = false, outputs = stage_inputs, output_norm = channel_layer",
    ),
}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_compiler_promise_holds(name: str) -> None:
    net = bs.parse(CASES[name])
    summary = bs.summary(net)
    model = bs.compile(net, seed=0).eval()
    assert sum(p.numel() for p in model.parameters()) == summary.totals.params
    paths = {r.path for r in summary.rows}
    for row in summary.rows:
        assert own_params(model, row.path, paths) == row.stats.params, row.path
    x = torch.randn(1, net.input.channels, *net.input.size)
    flops, out = counted_flops(model, x)
    # the attention matmuls of the padded map count the padded tokens
    assert flops == summary.totals.flops
    outs = out if isinstance(out, list) else [out]
    assert [tuple(o.shape[1:]) for o in outs] == [tuple(s) for s in output_shapes(net)]
    assert [f["num_chs"] for f in feature_info(net)] == [o.shape[1] for o in outs]
    modules = dict(model.named_modules())
    for f in feature_info(net):
        assert f["module"] in modules or f["module"] == "input"


def test_stage_inputs_are_the_stem_and_the_downsample_outputs() -> None:
    net = bs.parse(CASES["monai"])
    assert [f["module"] for f in feature_info(net)] == ["input", "stage1.down", "down_out"]
    model = bs.compile(net).eval()
    x = torch.randn(1, 2, 12, 12, 12)
    with torch.no_grad():
        got = model(x)
        d1 = model.stage1.down(model.stage0(x))
        last = model.down_out(model.stage1.block(d1))
    plain = lambda t: torch.nn.functional.layer_norm(t.movedim(1, -1), (t.shape[1],)).movedim(-1, 1)  # noqa: E731
    for g, w in zip(got, (x, d1, last)):
        assert torch.allclose(g, plain(w), atol=1e-6)
    assert not any("outputs" in k for k in model.state_dict())


def test_affine_output_norms_are_named_outputs_norm_i() -> None:
    model = bs.compile(CASES["affine_norms"])
    keys = [k for k in model.state_dict() if k.startswith("outputs.")]
    assert keys == [f"outputs.norm{i}.{p}" for i in range(3) for p in ("weight", "bias")]
    assert tuple(model.state_dict()["down_out.step0.conv.weight"].shape) == (16, 64, 1, 1, 1)


def test_padding_pads_zeros_after_the_norm_and_crops() -> None:
    """A padded S3 equals S3 on the explicitly zero-padded normed map, cropped."""
    text = soanet('["S3"]', cell="window = [5, 5, 5], window_padding = true",
                  keys="downsample = false", inp="D = 7, H = 8, W = 6")  # fmt: skip
    model = bs.compile(text).eval()
    cell = model.stage0.cell0
    x = torch.randn(1, 2, 7, 8, 6)
    with torch.no_grad():
        n = cell.norm1(x)
        padded = torch.nn.functional.pad(n, (0, 4, 0, 2, 0, 3))
        cfg = cell.attn.cfg
        unpadded = type(cell.attn)(type(cfg)(**{**cfg.__dict__, "window_padding": False,
                                                 "size": (10, 10, 10)}))  # fmt: skip
        unpadded.load_state_dict(cell.attn.state_dict())
        want = unpadded(padded)[:, :, :7, :8, :6]
        assert torch.allclose(cell.attn(n), want, atol=1e-6)


def test_written_table_rows_and_index() -> None:
    net = bs.parse(CASES["written_table"])
    model = bs.compile(net)
    for s in (0, 1):
        attn = getattr(model, f"stage{s}").cell0.attn
        assert tuple(attn.pos_table.shape) == (13**3, attn.heads)  # (2w-1)^3 at every level
    small = model.stage1.cell0.attn
    assert small.cfg.window == (6, 6, 6)
    want = relative_position_index((7, 7, 7))[:216, :216].flatten()
    assert torch.equal(small.pos_index, want)
    window = bs.compile(CASES["written_table"].replace("rel_pos_table = written_window", ""))
    assert tuple(window.stage1.cell0.attn.pos_table.shape) == (11**3, 2)


def test_written_table_of_a_non_cubic_window_is_in_token_order() -> None:
    """Regression: the written window's grid was kept (H, W, D) while the 3D tokens run
    (D, H, W); with equal sides nothing showed. Unclamped, the written table is the level's."""
    text = CASES["written_table"].replace("[7, 7, 7]", "[5, 6, 7]")
    written = bs.compile(text)
    level = bs.compile(text.replace("rel_pos_table = written_window", ""))
    big = written.stage0.cell0.attn  # 12^3: H padded to 15, W = 6, D padded to 14
    assert big.cfg.table_grid == big.grid == (7, 5, 6)
    assert torch.equal(big.pos_index, level.stage0.cell0.attn.pos_index)
    small = written.stage1.cell0.attn  # 6^3: D clamps to 6, H pads to 10
    assert small.grid == (6, 5, 6)
    want = relative_position_index((7, 5, 6))[:180, :180].flatten()
    assert torch.equal(small.pos_index, want)


def test_a_dynamic_size_with_padding_needs_no_window_multiple() -> None:
    text = soanet('["S3Sh"]', inp="D = ?, H = ?, W = ?", keys="downsample = false")
    net = bs.parse(text)
    assert net.input.step == (1, 1, 1)
    model = bs.compile(net).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 2, 7, 9, 11))[-1].shape) == (1, 4, 7, 9, 11)


# ----------------------------------------------------------------------------- misuse
def test_a_window_that_does_not_divide_is_refused_without_padding() -> None:
    text = soanet(cell="window = [5, 5, 5]")
    rejects(text, ShapeError, "[5, 5, 5]")
    assert bs.parse(soanet()) is not None


def test_final_downsample_needs_downsampling() -> None:
    text = soanet(keys="downsample = false, final_downsample = true")
    err = rejects(text, SpecValueError, "true", last=True)
    assert "downsample = merge" in err.hint


def test_a_channels_list_needs_one_more_entry() -> None:
    text = soanet(keys="downsample = merge, downsample_depth = true, final_downsample = true")
    text = text.replace("channels = 4", "channels = [4, 8]")
    err = rejects(text, SpecValueError, "[4, 8]")
    assert "3 entries" in err.hint
    ok = text.replace("[4, 8]", "[4, 8, 12]")
    assert bs.summary(ok).rows[-1].out_shape[0] == 12


@pytest.mark.parametrize("key", ["final_downsample = true", "outputs = stage_inputs",
                                 "output_norm = channel_layer"])  # fmt: skip
@pytest.mark.parametrize("kind", ["unet", "hrnet"])
def test_soanet_keys_on_another_backbone(key: str, kind: str) -> None:
    text = (
        "input { channels = 1, D = 1, H = 16, W = 16 }\n"
        f'backbone {kind} {{ channels = 4, levels = 1, blocks = ["C2"], {key} }}\n'
    )
    err = rejects(text, SpecValueError, key.split()[0])
    assert "soanet" in err.hint


@pytest.mark.parametrize("key", ["window_padding = true", "rel_pos_table = written_window"])
@pytest.mark.parametrize("code", ["G1", "V3", "T1", "C3"])
def test_cell_keys_on_a_family_without_local_windows(key: str, code: str) -> None:
    text = soanet(f'["{code}({key})"]', keys="downsample = false", cell="window = [4, 4, 4]")
    err = rejects(text, SpecValueError, key.split()[0])
    assert "no effect" in str(err)


@pytest.mark.parametrize(
    "key, value", [("outputs", "stage"), ("output_norm", "layer"), ("rel_pos_table", "sized"),
                   ("window_padding", "1"), ("final_downsample", "yes")],
)  # fmt: skip
def test_bad_values(key: str, value: str) -> None:
    where = "cell" if key in ("rel_pos_table", "window_padding") else "backbone"
    text = soanet(keys="downsample = merge") if where == "backbone" else soanet()
    if where == "backbone":
        text = text.replace("downsample = merge", f"downsample = merge, {key} = {value}")
    else:
        text = text.replace("window_padding = true", f"{key} = {value}")
    with pytest.raises(SpecError) as info:
        bs.parse(text)
    assert key in str(info.value)


def test_a_halving_that_does_not_fit_counts_the_final_downsample() -> None:
    text = soanet(
        inp="D = 12, H = 12, W = 12",
        keys="downsample = merge, downsample_depth = true, final_downsample = true",
    )
    text = text.replace('["S3Sh", "S3Sh"]', '["S3Sh", "S3Sh", "S3"]')  # 12 -> 6 -> 3 -> ?
    with pytest.raises(ShapeError) as info:
        bs.parse(text)
    assert "at most 2 stages" in info.value.hint
    assert ir.SOANet.__dataclass_fields__["final_down"].default is None
