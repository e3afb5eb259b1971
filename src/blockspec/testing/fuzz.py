"""A time-bounded fuzz campaign over the compiler's properties.

    python -m blockspec.testing.fuzz --budget-seconds 600 --out fuzz-out [--seed 0]

Each property is a hypothesis test run in short chunks with fresh seeds, round-robin, until
the budget is spent. Progress (examples/s and failures per property) goes to stdout; every
distinct counterexample (shrunk by hypothesis) is written to ``OUT/<property>-<n>.bspec``
with a comment header naming the property and the error; ``OUT/summary.json`` has the counts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st

from . import properties as P
from .strategies import NearMiss, SpecText, commented_specs, mutated_texts, near_miss_specs, specs

__all__ = ["Property", "PROPERTIES", "run_campaign", "main"]

_ALPHABET = st.sampled_from(
    list('{}[]()=,;#"?*-+/%. \n\t0123456789abcdeghilnprstuvwxyzCDHLGTSVW_') + ["é", "\r"]
)


@dataclass
class Property:
    """A named property: a strategy, a check, and how to write an example as spec text."""

    name: str
    strategy: Callable[[], st.SearchStrategy[Any]]
    check: Callable[[Any], None]
    text: Callable[[Any], str]
    chunk: int = 20  # examples per hypothesis run
    examples: int = 0
    failures: int = 0
    seconds: float = 0.0
    seen: dict[str, int] = field(default_factory=dict)


def _skip_known(spec: SpecText) -> None:
    assume(P.known_bug(spec) is None)


def _valid(spec: SpecText) -> None:
    _skip_known(spec)
    with P.time_limit(60):
        P.check_valid_spec(spec)


def _determinism(spec: SpecText) -> None:
    _skip_known(spec)
    with P.time_limit(60):
        P.check_determinism(spec)


def _format(spec: SpecText) -> None:
    with P.time_limit(20):
        P.check_format(spec.text)


def _format_comments(case: tuple[str, tuple[str, ...]]) -> None:
    with P.time_limit(20):
        P.check_format(case[0], case[1])


def _near_miss(nm: NearMiss) -> None:
    with P.time_limit(20):
        P.check_near_miss(nm)


def _grammar() -> st.SearchStrategy[str]:
    from hypothesis.extra.lark import from_lark
    from lark import Lark

    src = (Path(__file__).parent.parent / "grammar" / "blockspec.lark").read_text()
    grammar = Lark(src, start="spec", parser="lalr", lexer="contextual")
    explicit = {"_NL": st.just("\n"), "WS": st.just(" "), "COMMENT": st.just("# c")}
    return from_lark(grammar, start="spec", explicit=explicit)


_OVERRIDE_VALUES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.booleans(),
    st.text(max_size=8),
    st.lists(st.integers(-3, 40), max_size=4),
    st.none(),
)


def _with_overrides() -> st.SearchStrategy[tuple[SpecText, dict]]:
    names = st.sampled_from(["C", "X", "cell", "H", ""])
    return st.tuples(specs(), st.dictionaries(names, _OVERRIDE_VALUES, max_size=2))


def _overrides(case: tuple[SpecText, dict]) -> None:
    P.check_parse_total(case[0].text, overrides=case[1])


def _overrides_text(case: tuple[SpecText, dict]) -> str:
    return f"# overrides: {case[1]!r}\n" + case[0].text


def _near_text(nm: NearMiss) -> str:
    return (
        f"# expected: {nm.error.__name__} at {nm.line}:{nm.column} ({nm.kind}); "
        "the header adds lines above\n" + nm.text
    )


PROPERTIES: list[Property] = [
    Property("parse_random", lambda: st.text(_ALPHABET, max_size=160), P.check_parse_total, str),
    Property("parse_unicode", lambda: st.text(max_size=80), P.check_parse_total, str),
    Property("parse_mutated", mutated_texts, P.check_parse_total, str),
    Property("parse_grammar", _grammar, P.check_parse_total, str),
    Property("parse_overrides", _with_overrides, _overrides, _overrides_text),
    Property("valid_static", specs, _valid, lambda s: s.text, chunk=10),
    Property("valid_dynamic", lambda: specs(dynamic=True), _valid, lambda s: s.text, chunk=10),
    Property("near_miss", near_miss_specs, _near_miss, _near_text),
    Property("format", specs, _format, lambda s: s.text),
    Property("format_comments", commented_specs, _format_comments, lambda c: c[0]),
    Property("determinism", specs, _determinism, lambda s: s.text, chunk=5),
]


def _signature(exc: BaseException) -> str:
    """A key that groups failures with the same cause (numbers and quoted bits removed)."""
    msg = str(exc).split("\n", 1)[0]
    msg = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", msg)
    msg = re.sub(r"[0-9]+", "N", msg)
    return f"{type(exc).__name__}: {msg[:160]}"


def _header(prop: str, exc: BaseException, run_seed: int) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{tb[-1].filename}:{tb[-1].lineno}" if tb else "?"
    lines = [f"property: {prop}", f"seed: {run_seed}", f"raised at: {where}"]
    lines += [f"error: {type(exc).__name__}: " + str(exc).split("\n")[0]]
    lines += ["  " + ln for ln in str(exc).split("\n")[1:12]]
    return "".join(f"# {ln}".rstrip() + "\n" for ln in lines)


def _run_chunk(prop: Property, strategy: st.SearchStrategy[Any], run_seed: int, out: Path) -> None:
    last: list[Any] = [None]

    @seed(run_seed)
    @settings(
        database=None,
        max_examples=prop.chunk,
        deadline=None,
        derandomize=False,
        report_multiple_bugs=False,
        phases=[Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def test(example: Any) -> None:
        prop.examples += 1
        last[0] = example
        prop.check(example)

    try:
        test()
    except Exception as exc:  # a counterexample, shrunk; `last` holds it (re-run last)
        prop.failures += 1
        sig = _signature(exc)
        n = prop.seen.get(sig, 0)
        prop.seen[sig] = n + 1
        if n == 0:
            path = out / f"{prop.name}-{len(prop.seen)}.bspec"
            try:
                text = prop.text(last[0]) if last[0] is not None else ""
            except Exception:  # pragma: no cover - defensive
                text = repr(last[0])
            path.write_text(_header(prop.name, exc, run_seed) + text, encoding="utf-8")
            print(f"  FAIL {prop.name}: {sig} -> {path}", flush=True)


def run_campaign(
    budget_seconds: float,
    out: Path,
    base_seed: int = 0,
    only: list[str] | None = None,
    report_every: float = 60.0,
) -> dict[str, Any]:
    """Run the properties round-robin for `budget_seconds`; write counterexamples to `out`."""
    import torch

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    props = [p for p in PROPERTIES if only is None or p.name in only]
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for p in list(props):
        try:
            strategies[p.name] = p.strategy()
            strategies[p.name].validate()
        except Exception as exc:
            print(f"skipping {p.name}: its strategy cannot be built ({exc})", flush=True)
            props.remove(p)
    start = time.monotonic()
    next_report = start + report_every
    rnd = 0
    while props and time.monotonic() - start < budget_seconds:
        for p in props:
            if time.monotonic() - start >= budget_seconds:
                break
            t0 = time.monotonic()
            _run_chunk(p, strategies[p.name], base_seed * 1_000_003 + rnd, out)
            p.seconds += time.monotonic() - t0
        rnd += 1
        if time.monotonic() >= next_report:
            next_report += report_every
            _report(props, time.monotonic() - start)
    _report(props, time.monotonic() - start)
    summary = {
        "seconds": round(time.monotonic() - start, 1),
        "seed": base_seed,
        "properties": {
            p.name: {
                "examples": p.examples,
                "seconds": round(p.seconds, 1),
                "failures": p.failures,
                "distinct": p.seen,
            }
            for p in props
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def _report(props: list[Property], elapsed: float) -> None:
    print(f"[{elapsed:7.0f} s]", flush=True)
    for p in props:
        rate = p.examples / p.seconds if p.seconds else 0.0
        print(
            f"  {p.name:16s} {p.examples:7d} examples {rate:8.1f}/s "
            f"{p.failures:4d} failures ({len(p.seen)} distinct)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m blockspec.testing.fuzz", description=__doc__)
    ap.add_argument("--budget-seconds", type=float, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", help="comma-separated property names")
    ap.add_argument("--report-every", type=float, default=60.0)
    args = ap.parse_args(argv)
    only = args.only.split(",") if args.only else None
    summary = run_campaign(args.budget_seconds, args.out, args.seed, only, args.report_every)
    failed = sum(p["failures"] for p in summary["properties"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
