"""bs.save / bs.load: round trips, the file format, every refusal, spec=other, atomic writes."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import blockspec as bs
from blockspec import checkpoint
from blockspec.checkpoint import FORMAT, FORMAT_VERSION, LoadReport, weights_sha256
from blockspec.errors import CheckpointError, SpecError
from tiny_specs import HRNET, SOANET, TINY, UNET, example_input, flat

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MODEST = ["hrnet3", "soanet_swin3d", "unet_small"]  # up to a few M parameters, quick
SLOW = [  # 8M-88M parameters or a slow forward
    "unet_cine", "vit3d", "swin_t", "swin_s", "vit_s16", "vit_b16", "monai_swin_encoder",
    "monai_vit",
]  # fmt: skip


def _perturb(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Move the weights away from the seed's (and BN statistics from their start)."""
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=gen))
        model.train()
        model(x)  # running statistics of batch norms move
    model.eval()


def _roundtrip(model: torch.nn.Module, x: torch.Tensor, path: Path) -> torch.nn.Module:
    _perturb(model, x)
    bs.save(model, path)
    loaded = bs.load(path)
    assert not loaded.training
    assert loaded.spec == model.spec and loaded.seed == model.seed
    want, got = model.state_dict(), loaded.state_dict()
    assert list(want) == list(got)
    for k in want:
        assert torch.equal(want[k], got[k]), k
    with torch.no_grad():
        for a, b in zip(flat(model(x)), flat(loaded(x)), strict=True):
            assert torch.equal(a, b)  # bit for bit
    return loaded


@pytest.fixture
def saved(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    """A perturbed tiny HR-Net (batch norms: int64 buffers too) and its checkpoint."""
    model = bs.compile(HRNET, seed=3)
    _perturb(model, example_input(model))
    path = tmp_path / "hrnet.pt"
    bs.save(model, path)
    return model, path


def _payload(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _rewrite(path: Path, payload: dict, resign: bool = True) -> None:
    """Write a changed payload back (re-signing its weights and fields unless told not to)."""
    if resign:
        payload["weights_sha256"] = weights_sha256(payload["state_dict"])
        payload["sha256"] = checkpoint._payload_sha256(payload)
    torch.save(payload, path)


# ---- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TINY))
def test_roundtrip_tiny_specs_bit_for_bit(kind: str, tmp_path: Path) -> None:
    model = bs.compile(TINY[kind], seed=5)
    _roundtrip(model, example_input(model), tmp_path / f"{kind}.pt")


@pytest.mark.parametrize("name", MODEST)
def test_roundtrip_examples_bit_for_bit(name: str, tmp_path: Path) -> None:
    model = bs.compile(EXAMPLES / f"{name}.bspec", seed=1)
    _roundtrip(model, example_input(model, batch=1), tmp_path / f"{name}.pt")


@pytest.mark.slow
@pytest.mark.timeout(900)  # 86M parameters perturbed, saved, loaded and run on a busy machine
@pytest.mark.parametrize("name", SLOW)
def test_roundtrip_big_examples_bit_for_bit(name: str, tmp_path: Path) -> None:
    model = bs.compile(EXAMPLES / f"{name}.bspec", seed=1)
    _roundtrip(model, example_input(model, batch=1), tmp_path / f"{name}.pt")


def test_roundtrip_seed_none_and_loaded_models_save_again(tmp_path: Path) -> None:
    model = bs.compile(UNET, seed=None)
    loaded = _roundtrip(model, example_input(model), tmp_path / "a.pt")
    assert loaded.seed is None
    bs.save(loaded, tmp_path / "b.pt")
    assert (
        _payload(tmp_path / "b.pt")["weights_sha256"]
        == _payload(tmp_path / "a.pt")["weights_sha256"]
    )


def test_load_takes_str_paths_and_a_map_location(saved) -> None:
    model, path = saved
    loaded = bs.load(str(path), map_location=torch.device("cpu"))
    assert all(p.device.type == "cpu" for p in loaded.parameters())
    assert weights_sha256(loaded.state_dict()) == weights_sha256(model.state_dict())


# ---- the file format --------------------------------------------------------------------------


def test_file_fields(saved) -> None:
    model, path = saved
    payload = _payload(path)
    assert set(payload) == set(checkpoint._FIELDS)
    assert payload["format"] == FORMAT == "blockspec-checkpoint"
    assert payload["format_version"] == FORMAT_VERSION == 2
    assert payload["blockspec_version"] == bs.__version__
    assert payload["spec"] == model.spec
    assert payload["seed"] == 3
    assert list(payload["state_dict"]) == list(model.state_dict())
    assert all(t.device.type == "cpu" for t in payload["state_dict"].values())
    assert payload["weights_sha256"] == weights_sha256(model.state_dict())
    assert zipfile.is_zipfile(path)


def test_weights_hash_is_the_documented_one() -> None:
    sd = {"b": torch.tensor([1, 2], dtype=torch.int64), "a": torch.tensor([[1.5]])}
    h = hashlib.sha256(b"blockspec-weights-v1\n")
    h.update(b"a\0float32\x001,1\x004\n" + struct.pack("<f", 1.5))
    h.update(b"b\0int64\x002\x0016\n" + struct.pack("<qq", 1, 2))
    assert weights_sha256(sd) == h.hexdigest()
    # order of insertion, strides and storage offsets do not matter; values, dtypes, shapes do
    big = torch.arange(6.0).reshape(2, 3)
    assert weights_sha256({"x": big.t()}) == weights_sha256({"x": big.t().contiguous()})
    assert weights_sha256({"x": big[1]}) == weights_sha256({"x": torch.tensor([3.0, 4, 5])})
    assert weights_sha256({"x": big}) != weights_sha256({"x": big.double()})
    assert weights_sha256({"x": big}) != weights_sha256({"x": big.reshape(3, 2)})
    assert weights_sha256({"x": big, "y": big}) == weights_sha256({"y": big, "x": big})
    assert weights_sha256({"x": torch.zeros(0)}) != weights_sha256({})


def test_save_is_deterministic(saved, tmp_path: Path) -> None:
    model, path = saved
    again = tmp_path / "again.pt"
    bs.save(model, again)
    assert _payload(again)["weights_sha256"] == _payload(path)["weights_sha256"]


# ---- refusals while loading -------------------------------------------------------------------


def _data_region(path: Path) -> tuple[int, int]:
    """(offset, size) of the biggest tensor's bytes inside the (stored, uncompressed) zip."""
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    assert info.compress_type == zipfile.ZIP_STORED
    name_len, extra_len = struct.unpack(
        "<HH", raw[info.header_offset + 26 : info.header_offset + 30]
    )
    return info.header_offset + 30 + name_len + extra_len, info.file_size


def test_flipped_byte_in_the_weights_is_a_hash_mismatch(saved) -> None:
    model, path = saved
    start, size = _data_region(path)
    raw = bytearray(path.read_bytes())
    raw[start + size // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    with torch.no_grad():  # torch itself reads the file happily: the hash is what catches it
        assert _payload(path)["state_dict"].keys() == model.state_dict().keys()
    with pytest.raises(CheckpointError, match="weights hash mismatch") as e:
        bs.load(path)
    assert isinstance(e.value, SpecError)


def test_changed_tensor_value_is_a_hash_mismatch(saved) -> None:
    _, path = saved
    payload = _payload(path)
    key = next(k for k, v in payload["state_dict"].items() if v.is_floating_point())
    payload["state_dict"][key].view(-1)[0] += 1.0
    _rewrite(path, payload, resign=False)
    with pytest.raises(CheckpointError, match="hash mismatch"):
        bs.load(path)


def test_flipped_bytes_anywhere_never_load_different_weights(saved) -> None:
    model, path = saved
    good = path.read_bytes()
    want = model.state_dict()
    start, size = _data_region(path)
    positions = sorted(
        set(range(0, len(good), max(1, len(good) // 60))) | {start, start + size - 1}
    )
    refused = 0
    for pos in positions:
        raw = bytearray(good)
        raw[pos] ^= 0xFF
        path.write_bytes(bytes(raw))
        try:
            loaded = bs.load(path)
        except CheckpointError:
            refused += 1
            continue
        # a flip the format ignores (zip metadata, padding) may load, but only the same weights
        got = loaded.state_dict()
        assert all(torch.equal(want[k], got[k]) for k in want), f"byte {pos} loaded silently"
    assert refused > len(positions) // 2


@pytest.mark.parametrize("keep", [0, 3, 100, 0.5, -1])
def test_truncated_file(saved, keep) -> None:
    _, path = saved
    raw = path.read_bytes()
    n = int(len(raw) * keep) if isinstance(keep, float) else keep % len(raw)
    path.write_bytes(raw[:n])
    with pytest.raises(CheckpointError) as e:
        bs.load(path)
    msg = e.value.message
    assert "truncated" in msg or "not a blockspec checkpoint" in msg
    assert "Traceback" not in str(e.value)


@pytest.mark.parametrize(
    ("obj", "what"),
    [
        ({"weight": torch.zeros(3)}, "a dict with keys 'weight'"),
        ({}, "an empty dict"),
        (torch.zeros(3), "a Tensor"),
        ([1, 2], "a list"),
        ({"format": "other", "state_dict": {}}, "a dict with keys 'format', 'state_dict'"),
    ],
)
def test_torch_save_of_other_objects_is_refused(tmp_path: Path, obj, what: str) -> None:
    path = tmp_path / "other.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="not a blockspec checkpoint") as e:
        bs.load(path)
    assert what in e.value.message


class _Arbitrary:
    pass


def test_pickled_code_is_not_run(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save(_Arbitrary(), path)
    with pytest.raises(CheckpointError, match="weights_only") as e:
        bs.load(path)
    assert "\n" not in e.value.message


def test_non_zip_and_missing_files(tmp_path: Path) -> None:
    text = tmp_path / "spec.pt"
    text.write_text("input { channels = 1 }\n")
    with pytest.raises(CheckpointError, match="not a PyTorch zip file"):
        bs.load(text)
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        bs.load(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="cannot read"):
        bs.load(tmp_path)


def test_newer_format_version_is_refused(saved) -> None:
    _, path = saved
    payload = _payload(path)
    payload["format_version"] = FORMAT_VERSION + 1
    payload["blockspec_version"] = "9.0.0"
    _rewrite(path, payload)
    with pytest.raises(CheckpointError, match=r"format 3, newer than .*\(format 2\)") as e:
        bs.load(path)
    assert "9.0.0" in e.value.message and "upgrade" in e.value.hint


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("format_version", "1", "format_version is '1'"),
        ("spec", None, "field spec is a NoneType"),
        ("seed", 1.5, "field seed is a float"),
        ("state_dict", [], "field state_dict is a list"),
        ("weights_sha256", None, "missing field"),
    ],
)
def test_damaged_structure(saved, field: str, value, match: str) -> None:
    _, path = saved
    payload = _payload(path)
    if value is None and field == "weights_sha256":
        del payload[field]
    else:
        payload[field] = value
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=match):
        bs.load(path)


def test_non_tensor_in_state_dict(saved) -> None:
    _, path = saved
    payload = _payload(path)
    payload["state_dict"]["level0.extra"] = 3
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="'level0.extra' is a int, not a tensor"):
        bs.load(path)


def test_stored_spec_that_no_longer_parses(saved) -> None:
    _, path = saved
    payload = _payload(path)
    payload["spec"] = payload["spec"].replace("backbone hrnet", "backbone hrnett")
    _rewrite(path, payload)
    with pytest.raises(CheckpointError, match="stored spec no longer parses") as e:
        bs.load(path)
    cause = e.value.__cause__
    assert isinstance(cause, SpecError) and not isinstance(cause, CheckpointError)
    assert cause.message in e.value.message  # the spec error is shown
    assert "hrnett" in str(e.value)


def test_stored_spec_over_budget_says_so(saved) -> None:
    _, path = saved
    with pytest.raises(CheckpointError, match="over the budget"):
        bs.load(path, max_params=10)
    assert bs.load(path, max_params=1e6).spec  # within a raised budget it loads


def test_state_dict_not_fitting_the_spec_names_the_keys(saved) -> None:
    _, path = saved
    payload = _payload(path)
    sd = payload["state_dict"]
    gone = sorted(sd)[:7]
    for k in gone:
        del sd[k]
    sd["level9.cell0.weight"] = torch.zeros(2)
    reshaped = "fusion.level0.out.cell0.attn.q.weight"
    assert reshaped in sd
    sd[reshaped] = torch.zeros(3, 3)
    _rewrite(path, payload)
    with pytest.raises(CheckpointError, match="do not fit the stored spec") as e:
        bs.load(path)
    msg = e.value.message
    assert "7 missing" in msg and all(k in msg for k in gone[:5]) and "and 2 more" in msg
    assert gone[5] not in msg
    assert "1 unexpected" in msg and "level9.cell0.weight" in msg
    assert f"1 with another shape: {reshaped} [3, 3] in the file" in msg


# ---- spec=other -------------------------------------------------------------------------------

HEADLESS = SOANET.replace("head classify { classes = 3 }", "")


def test_load_with_other_head(tmp_path: Path) -> None:
    model = bs.compile(SOANET, seed=4)
    x = example_input(model)
    _perturb(model, x)
    path = tmp_path / "soa.pt"
    bs.save(model, path)
    other = SOANET.replace("classes = 3", "classes = 5")
    loaded = bs.load(path, spec=other)
    report = loaded.load_report
    assert isinstance(report, LoadReport)
    assert report.mismatched == ("head.fc.bias", "head.fc.weight")
    assert report.new == () and report.unused == ()
    want = model.state_dict()
    got = loaded.state_dict()
    assert set(report.loaded) == set(want) - {"head.fc.bias", "head.fc.weight"}
    assert all(torch.equal(want[k], got[k]) for k in report.loaded)
    fresh = bs.compile(other, seed=4).state_dict()  # mismatched keys keep the seed's values
    assert all(torch.equal(fresh[k], got[k]) for k in report.mismatched)
    assert not loaded.training and loaded.spec == bs.compile(other).spec
    with torch.no_grad():
        assert loaded(x).shape == (2, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.loaded = ()  # type: ignore[misc]
    assert str(report).startswith(f"{len(report.loaded)} loaded, 0 new, 0 unused, 2 mismatched")


def test_load_with_head_added_and_removed(tmp_path: Path) -> None:
    base = bs.compile(HEADLESS, seed=2)
    path = tmp_path / "headless.pt"
    bs.save(base, path)
    with_head = bs.load(path, spec=SOANET)
    assert with_head.load_report.new == ("head.fc.bias", "head.fc.weight")
    assert with_head.load_report.unused == () and with_head.load_report.mismatched == ()
    bs.save(bs.compile(SOANET, seed=2), path)
    without = bs.load(path, spec=HEADLESS)
    assert without.load_report.unused == ("head.fc.bias", "head.fc.weight")
    assert without.load_report.new == ()
    assert set(without.load_report.loaded) == set(base.state_dict())


def test_load_with_other_spec_from_a_path(saved, tmp_path: Path) -> None:
    model, path = saved
    spec_file = tmp_path / "other.bspec"
    spec_file.write_text(HRNET + "head conv { out_channels = 2 }\n")
    loaded = bs.load(path, spec=spec_file)
    assert loaded.load_report.new == ("head.conv.bias", "head.conv.weight")
    assert set(loaded.load_report.loaded) == set(model.state_dict())
    with pytest.raises(SpecError) as e:  # an error in the given spec is that spec's error
        bs.load(path, spec=HRNET.replace("hrnet", "hrnett"))
    assert not isinstance(e.value, CheckpointError)


def test_other_spec_still_verifies_the_hash(saved) -> None:
    _, path = saved
    payload = _payload(path)
    next(iter(payload["state_dict"].values())).view(-1)[0] += 1
    _rewrite(path, payload, resign=False)
    with pytest.raises(CheckpointError, match="hash mismatch"):
        bs.load(path, spec=HRNET)


# ---- refusals while saving, atomic writes -----------------------------------------------------


def test_save_refuses_a_model_without_spec(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"has no \.spec"):
        bs.save(torch.nn.Linear(2, 2), tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_spec_that_does_not_describe_the_model(tmp_path: Path) -> None:
    model = bs.compile(HRNET.replace("channels = 8", "channels = C").replace(
        "input", "let C = 8\ninput"), overrides={"C": 4})  # fmt: skip
    # the canonical text carries the override, so the model saves and rebuilds as compiled
    assert "let C = 4" in model.spec
    bs.save(model, tmp_path / "o.pt")
    loaded = bs.load(tmp_path / "o.pt")
    assert sum(p.numel() for p in loaded.parameters()) == sum(p.numel() for p in model.parameters())
    (tmp_path / "o.pt").unlink()
    model.spec = model.spec.replace("let C = 4", "let C = 2")
    with pytest.raises(CheckpointError, match="another network"):
        bs.save(model, tmp_path / "x.pt")
    other = bs.compile(HRNET)
    other.spec = other.spec.replace("channels = 8", "channels = 4")
    del other.ir
    with pytest.raises(CheckpointError, match="do not fit model.spec"):
        bs.save(other, tmp_path / "x.pt")
    other.spec = "input {"
    with pytest.raises(CheckpointError, match="does not parse"):
        bs.save(other, tmp_path / "x.pt")
    assert list(tmp_path.iterdir()) == []


def _failing_save(real_save):
    def fake(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial")
        raise RuntimeError("disk on fire")

    return fake


def test_failed_save_leaves_the_old_file_and_no_temp_files(saved, monkeypatch) -> None:
    model, path = saved
    before = path.read_bytes()
    monkeypatch.setattr(torch, "save", _failing_save(torch.save))
    with pytest.raises(CheckpointError, match="cannot write .*disk on fire"):
        bs.save(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_failed_rename_leaves_the_old_file_and_no_temp_files(saved, monkeypatch) -> None:
    model, path = saved
    before = path.read_bytes()

    def no_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(CheckpointError, match="Permission denied"):
        bs.save(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_interrupted_save_cleans_up_and_reraises(saved, monkeypatch) -> None:
    model, path = saved

    def interrupted(obj, f, *args, **kwargs):
        f.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        bs.save(model, path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_save_fsyncs_before_the_rename(tmp_path: Path, monkeypatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    bs.save(bs.compile(HRNET), tmp_path / "m.pt")
    assert events[:2] == ["fsync", "replace"]
    assert bs.load(tmp_path / "m.pt").spec


def test_save_into_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot write"):
        bs.save(bs.compile(HRNET), tmp_path / "no" / "such" / "m.pt")


def test_saved_file_has_ordinary_permissions(saved) -> None:
    _, path = saved
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# ---- determinism across processes -------------------------------------------------------------

_HASH_SCRIPT = """
import sys
import blockspec as bs
from blockspec.checkpoint import weights_sha256
print(weights_sha256(bs.compile(sys.stdin.read(), seed=int(sys.argv[1])).state_dict()))
"""


def _hash_in_subprocess(spec: str, seed: int) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _HASH_SCRIPT, str(seed)],
        input=spec,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out.stdout.strip().splitlines()[-1]


def test_same_spec_and_seed_give_identical_weights_in_two_processes() -> None:
    first, second = _hash_in_subprocess(UNET, 11), _hash_in_subprocess(UNET, 11)
    assert len(first) == 64 and first == second
    assert first == weights_sha256(bs.compile(UNET, seed=11).state_dict())
    assert _hash_in_subprocess(UNET, 12) != first


def test_every_example_is_round_tripped() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.bspec")) == sorted(MODEST + SLOW)
