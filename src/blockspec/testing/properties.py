"""The compiler's properties as plain functions, shared by the test suite and the fuzzer.

Each `check_*` function raises `AssertionError` (or the unexpected exception) when the
property does not hold for its input, and returns None otherwise.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from ..errors import SpecError
from .strategies import NearMiss, SpecText

__all__ = [
    "KNOWN_BUGS",
    "known_bug",
    "time_limit",
    "check_parse_total",
    "check_valid_spec",
    "check_near_miss",
    "check_format",
    "check_determinism",
    "concrete_sizes",
]

#: Compiler/runtime bugs the properties found that are not fixed yet:
#: (reason, predicate on the generated `SpecText`). Tests skip matching examples (each bug has
#: a strict xfail in tests/properties/test_regressions.py); remove an entry when it is fixed.
KNOWN_BUGS: list[tuple[str, object]] = []


def known_bug(spec: SpecText) -> str | None:
    """The reason of the first known bug this spec runs into, else None."""
    for reason, pred in KNOWN_BUGS:
        if pred(spec):  # type: ignore[operator]
            return reason
    return None


class ParseTimeout(Exception):
    """The parser took longer than the time limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `ParseTimeout` after `seconds` (main thread, Unix); otherwise no limit."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    if not hasattr(signal, "setitimer"):  # pragma: no cover - Windows
        yield
        return

    def on_alarm(signum, frame):  # noqa: ARG001
        raise ParseTimeout(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _span_inside(err: SpecError, text: str) -> None:
    sp = err.span
    assert sp is not None, f"{type(err).__name__} without a span: {err.message}"
    if sp.file == "<overrides>":
        assert sp.source is not None and 1 <= sp.line <= len(sp.source.split("\n")), sp
        return
    lines = text.split("\n")
    assert 1 <= sp.line <= len(lines), f"line {sp.line} outside 1..{len(lines)}: {err.message}"
    n = len(lines[sp.line - 1])  # a lone "\r" is a character of its line
    assert 1 <= sp.column <= n + 1, (
        f"column {sp.column} outside 1..{n + 1} of line {sp.line}: {err.message}"
    )
    assert sp.length >= 0, f"negative span length {sp.length}"


def check_parse_total(text: str, seconds: float = 5.0, overrides: dict | None = None) -> None:
    """`bs.parse` returns or raises a `SpecError` whose span lies inside the text (or in
    ``<overrides>``), in time."""
    from .. import api
    from ..sources import NamedText

    try:
        with time_limit(seconds):  # as text, even where a one-line text names a file
            api.parse(NamedText(text, "<string>"), overrides=overrides)
    except SpecError as err:
        _span_inside(err, text)
        for e in err.errors:
            _span_inside(e, text)
        err.render()  # rendering never fails


def concrete_sizes(net, k: int = 0) -> tuple[int, int, int]:
    """An input (D, H, W) for a network: static axes as written, dynamic ones the k-th valid
    size (the smallest valid size plus k steps)."""
    from ..compiler import ir

    out = []
    for i, ax in enumerate(net.input.size):
        if isinstance(ax, ir.Sym):
            out.append(net.input.minimum[i] + k * net.input.step[i])
        else:
            out.append(ax)
    return (out[0], out[1], out[2])


def _subst(shape: tuple, size: tuple[int, int, int]) -> tuple[int, ...]:
    from ..compiler import ir

    out = []
    for ax in shape:
        if isinstance(ax, ir.Sym):
            v = size["DHW".index(ax.name)]
            assert v % ax.div == 0, f"{ax} at size {size}"
            out.append(v // ax.div)
        else:
            out.append(ax)
    return tuple(out)


def _outputs(y) -> list:
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_valid_spec(spec: SpecText, seed: int = 0, sizes: int = 2) -> None:
    """A valid spec compiles; forward outputs have the inferred shapes and are finite; total
    and per-node parameter counts equal the inference; backward reaches every parameter."""
    import torch

    from .. import api
    from ..compiler.infer import infer, output_shapes

    net = api.parse(spec.text)
    rows = infer(net)
    model = api.compile(net, seed=seed)
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    inferred = sum(r.stats.params for r in rows)
    assert total == inferred, f"parameters: module has {total}, inference says {inferred}"

    modules = dict(model.named_modules())
    paths = [r.path for r in rows]
    for r in rows:
        assert r.path in modules, f"no module at {r.path}"
        own = {id(p): p.numel() for p in modules[r.path].parameters()}
        for other in paths:
            if other != r.path and other.startswith(r.path + "."):
                for p in modules[other].parameters():
                    own.pop(id(p), None)
        got = sum(own.values())
        assert got == r.stats.params, (
            f"{r.path}: module has {got} parameters, inferred {r.stats.params}"
        )

    expected = output_shapes(net)
    dynamic = any(not isinstance(a, int) for a in net.input.size)
    torch.manual_seed(seed)
    model.train()
    for k in range(sizes if dynamic else 1):
        d, h, w = concrete_sizes(net, k)
        x = torch.randn(2, net.input.channels, d, h, w)
        model.zero_grad(set_to_none=True)
        outs = _outputs(model(x))
        want = [(2, *_subst(s, (d, h, w))) for s in expected]
        got = [tuple(o.shape) for o in outs]
        assert got == want, f"output shapes at input {(d, h, w)}: got {got}, inferred {want}"
        for o in outs:
            assert torch.isfinite(o).all(), f"non-finite output at input {(d, h, w)}"
        loss = sum((o * torch.randn_like(o)).sum() for o in outs)
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None, f"no gradient reaches {name}"
            assert torch.isfinite(p.grad).all(), f"non-finite gradient at {name}"


def check_near_miss(nm: NearMiss) -> None:
    """A near miss raises exactly the expected class at the expected line and column."""
    from .. import api

    try:
        api.parse(nm.text)
    except SpecError as err:
        sp = err.span
        got = (type(err).__name__, sp.line if sp else None, sp.column if sp else None)
        want = (nm.error.__name__, nm.line, nm.column)
        assert got == want, (
            f"{nm.kind}: expected {want[0]} at {want[1]}:{want[2]}, got {got[0]} at "
            f"{got[1]}:{got[2]}: {err.message}"
        )
        return
    raise AssertionError(f"{nm.kind}: expected {nm.error.__name__}, but the spec was accepted")


def check_format(text: str, comments: tuple[str, ...] = ()) -> None:
    """Formatting keeps the AST and the IR, keeps every comment and is idempotent."""
    from .. import api
    from ..compiler.ast import parse_spec

    f = api.format(text)
    assert parse_spec(f) == parse_spec(text), "format changed the AST"
    assert api.format(f) == f, "format is not idempotent"
    assert api.parse(f) == api.parse(text), "format changed the IR"
    for c in comments:
        assert c in f, f"format lost the comment {c!r}"


def check_determinism(spec: SpecText, seed: int = 0) -> None:
    """The same spec and seed give identical state_dicts."""
    import torch

    from .. import api

    a = api.compile(spec.text, seed=seed).state_dict()
    b = api.compile(spec.text, seed=seed).state_dict()
    assert list(a) == list(b), "state_dict keys differ"
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert torch.equal(a[k], b[k]) or (
            a[k].is_floating_point() and torch.equal(a[k].isnan(), b[k].isnan())
        ), f"{k} differs between two compiles with seed {seed}"
