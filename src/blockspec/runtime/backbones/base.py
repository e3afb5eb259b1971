"""What every backbone shares: the input check, the optional stem and the optional head.

A backbone module *is* the compiled network: it holds ``stem`` (optional, registered first),
its own modules (``level0``, ``bridge``, ``stage0`` ...) at top level, and ``head`` (optional,
registered last), so state-dict keys read ``stem.conv.weight``, ``level0.enc.cell0...``,
``head.conv.weight`` with no ``backbone.`` prefix. ``forward`` runs

1. the input checks: a tensor (`SpecValueError` otherwise) of the parameters' dtype (any
   floating dtype under autocast), at least one sample, then against `InputConfig` (when
   given), raising `ShapeError`;
2. stem -> the backbone's `features` -> head; a head on a list output uses its last element and
   the module then returns the head's output alone. With a class token the backbone runs on
   token rows; each output is split back into its map (returned) and its class token (given
   to the head: SEMANTICS.md, "Class token").
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from blockspec.errors import ShapeError, SpecValueError
from blockspec.runtime.config import HeadConfig, InputConfig, StemConfig
from blockspec.runtime.heads import Head
from blockspec.runtime.stem import Stem

__all__ = ["Backbone", "check_input", "check_tensor"]

_AXES = ("D", "H", "W")


def _allowed(name: str, step: int, minimum: int) -> str:
    if step > 1 and minimum > step:
        return f"{name} must be a multiple of {step} and at least {minimum}"
    if step > 1:
        return f"{name} must be a multiple of {step}"
    return f"{name} must be at least {max(1, minimum)}"


def check_input(x: torch.Tensor, cfg: InputConfig) -> None:
    """Check ``x`` against what the network accepts; raise `ShapeError` naming the axis.

    Channels and static axes must be equal; a dynamic axis must be a positive multiple of its
    ``step`` and at least its ``minimum``. Only integer comparisons on the shape: cheap.
    """
    if x.dim() != 5:
        raise ShapeError(
            f"the input has shape {tuple(x.shape)}; the network takes a 5D tensor "
            f"[B, C, D, H, W] with C = {cfg.channels}",
            hint="add the missing axes, e.g. x[:, :, None] for 2D images (D = 1)",
        )
    c = x.shape[1]
    if c != cfg.channels:
        raise ShapeError(
            f"the input has C = {c} channels; the network takes C = {cfg.channels}",
            hint="the spec's input { channels = ... } fixes the number of input channels",
        )
    for i, name in enumerate(_AXES):
        n = x.shape[2 + i]
        want = cfg.size[i]
        if want is not None:
            if n != want:
                raise ShapeError(
                    f"{name} = {n} does not match the network's static size; {name} must be {want}",
                    hint=f"the spec fixes {name} = {want}; mark it `?` to accept other sizes",
                )
            continue
        step, minimum = cfg.step[i], max(1, cfg.minimum[i])
        if n < 1 or n % step != 0:
            raise ShapeError(
                f"{name} = {n} is not a multiple of {step}; {_allowed(name, step, minimum)}"
            )
        if n < minimum:
            raise ShapeError(f"{name} = {n} is too small; {_allowed(name, step, minimum)}")


_CASTS = {
    torch.float32: "float()",
    torch.float64: "double()",
    torch.float16: "half()",
    torch.bfloat16: "bfloat16()",
}


def _cast(dtype: torch.dtype) -> str:
    return _CASTS.get(dtype, f"to({dtype})")


def check_tensor(x: Any, dtype: torch.dtype | None, channels: int | None = None) -> None:
    """Refuse what is not a tensor of `dtype` with at least one sample, saying how to fix it.

    A floating input of another dtype is allowed under ``torch.autocast`` (which casts per op).
    Only type, dtype and shape metadata are read, so the check traces without graph breaks.
    """
    want = "[B, C, D, H, W]" + (f" with C = {channels}" if channels is not None else "")
    of = f" of dtype {str(dtype).removeprefix('torch.')}" if dtype is not None else ""
    if not isinstance(x, torch.Tensor):
        what = "None" if x is None else f"a {type(x).__module__}.{type(x).__qualname__}"
        raise SpecValueError(
            f"the input is {what}; the network takes a torch.Tensor {want}{of}",
            hint="convert it first: torch.from_numpy(a) for a numpy array, torch.stack(xs) "
            "for a list of tensors, torch.tensor(data) for nested lists",
        )
    if dtype is not None and x.dtype != dtype:
        autocast = x.is_floating_point() and torch.is_autocast_enabled(x.device.type)
        if not autocast:
            got = str(x.dtype).removeprefix("torch.")
            name = str(dtype).removeprefix("torch.")
            hint = f"cast the input (x.{_cast(dtype)})"
            if x.is_floating_point():
                hint += (
                    f", or the model to the input's dtype (model.{_cast(x.dtype)}), or run it "
                    f"under torch.autocast(device_type={x.device.type!r}) for mixed precision"
                )
            raise SpecValueError(
                f"the input has dtype {got}; the network's parameters are {name}, so it takes "
                f"a tensor {want} of dtype {name}",
                hint=hint,
            )
    if x.dim() >= 1 and x.shape[0] == 0:
        raise ShapeError(
            f"the input has batch size B = 0 (shape {tuple(x.shape)}); the network takes at "
            "least one sample",
            hint="skip empty batches before calling the model",
        )


class Backbone(nn.Module):
    """Base of `UNet`, `HRNet` and `SOANet`: optional input check, stem and head.

    Subclasses implement `build` (register their modules, called between the stem and the head)
    and `features` (the backbone proper, on the stem's output).
    """

    def __init__(
        self,
        cfg: Any,
        *,
        input: InputConfig | None = None,
        stem: StemConfig | None = None,
        head: HeadConfig | None = None,
        heads: tuple[HeadConfig, ...] = (),
        out_indices: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.input_cfg = input
        self.stem = Stem(stem) if stem is not None else None
        self.build(cfg)
        self.head = Head(head) if head is not None else None
        self.heads = nn.ModuleList(Head(h) for h in heads) if heads else None
        self.out_indices = out_indices

    def build(self, cfg: Any) -> None:
        """Register the backbone's own modules."""
        raise NotImplementedError

    def features(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """The backbone proper: the stem's output (or the input) -> tensor or list."""
        raise NotImplementedError

    def _dtype(self) -> torch.dtype | None:
        """The dtype of the first parameter (the one inputs must have), None without any."""
        for p in self.parameters():
            return p.dtype
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        channels = self.input_cfg.channels if self.input_cfg is not None else None
        check_tensor(x, self._dtype(), channels)
        if self.input_cfg is not None:
            check_input(x, self.input_cfg)
        if self.stem is not None:
            x = self.stem(x)
        y = self.features(x)
        tokens: list[torch.Tensor | None] | None = None
        if self.stem is not None and self.stem.class_token is not None:
            y, tokens = self._split_rows(y)
        if self.out_indices is not None and isinstance(y, list):
            y = [y[i] for i in self.out_indices]
            tokens = None if tokens is None else [tokens[i] for i in self.out_indices]
        if self.heads is not None:  # one head per output
            outs = y if isinstance(y, list) else [y]
            toks = tokens if tokens is not None else [None] * len(outs)
            return [h(t, k) for h, t, k in zip(self.heads, outs, toks)]
        if self.head is None:
            return y
        if tokens is not None:
            return self.head(y[-1] if isinstance(y, list) else y, tokens[-1])
        return self.head(y[-1] if isinstance(y, list) else y)

    def _split_rows(self, y: torch.Tensor | list[torch.Tensor]):
        """Token rows (a class token) -> the maps returned, and each row's class token."""
        assert self.stem is not None
        rows = y if isinstance(y, list) else [y]
        maps, tokens = zip(*(self.stem.split(r) for r in rows))
        return (list(maps) if isinstance(y, list) else maps[0]), list(tokens)
