"""Mutations of valid specs: token- and byte-level edits (mostly invalid) and comments."""

from __future__ import annotations

import re

from hypothesis import strategies as st

from .specs import SpecText, specs

_TOKEN = re.compile(
    r'"[^"\n]*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\*\*|//|\s+|.',
    re.S,
)
_NOISE = tuple('{}[]()=,;#"?*-+/%.:!@\\\t\r\n 0123456789eE_') + ("é", "\u00a0", "\x00", "🙂")
_WORDS = (
    "let", "input", "cell", "stem", "backbone", "head", "level", "stage", "true", "false",
    "unet", "hrnet", "soanet", "conv", "classify", "L1", "S3Sh", "(", ")", "*", "**", "?",
    "9" * 25, "1e400", "-0", "0.0", "[", "]", '"', '"L1"', "C", "//", "%", "1e-4", "layer",
)  # fmt: skip


@st.composite
def _mutated(draw, base: st.SearchStrategy[SpecText]) -> str:
    text = draw(base).text
    toks = _TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 3))):
        if not toks:
            toks = [""]
        i = draw(st.integers(0, len(toks) - 1))
        op = draw(
            st.sampled_from(
                ("delete", "duplicate", "swap", "insert", "word", "in_string", "truncate")
            )
        )
        if op == "delete":
            del toks[i]
        elif op == "duplicate":
            toks.insert(i, toks[i])
        elif op == "swap":
            j = draw(st.integers(0, len(toks) - 1))
            toks[i], toks[j] = toks[j], toks[i]
        elif op == "insert":
            toks.insert(i, "".join(draw(st.lists(st.sampled_from(_NOISE), min_size=1, max_size=3))))
        elif op == "word":
            toks.insert(i, draw(st.sampled_from(_WORDS)))
        elif op == "in_string":
            strs = [k for k, t in enumerate(toks) if t.startswith('"') and len(t) >= 2]
            if strs:
                k = draw(st.sampled_from(strs))
                s = toks[k]
                j = draw(st.integers(1, len(s) - 1))
                noise = draw(
                    st.sampled_from(("(", ")", "*", "*0", "*1001", "X", " ", "=", "h", ","))
                )
                toks[k] = s[:j] + noise + s[j + draw(st.integers(0, 1)) :]
        else:
            toks = toks[:i]
    return "".join(toks)


def mutated_texts(*, base: st.SearchStrategy[SpecText] | None = None) -> st.SearchStrategy[str]:
    """Token- and byte-level mutations of valid specs: delete, duplicate or swap tokens,
    insert noise or keywords, edit a block string, truncate (mostly invalid texts)."""
    return _mutated(base if base is not None else specs())


@st.composite
def _commented(draw, base: st.SearchStrategy[SpecText]) -> tuple[str, tuple[str, ...]]:
    lines = draw(base).text.split("\n")
    comments: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        c = f"# note {len(comments)}" + draw(st.sampled_from(("", " x = [1, 2]", ' "L1"', " {")))
        comments.append(c)
        if draw(st.booleans()):
            lines.insert(i, draw(st.sampled_from(("", "  "))) + c)  # a line of its own
        else:
            lines[i] = lines[i] + draw(st.sampled_from((" ", "  ", ""))) + c
    return "\n".join(lines), tuple(comments)


def commented_specs(
    *, base: st.SearchStrategy[SpecText] | None = None
) -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    """(text, comments): a valid spec with comments at line ends and on lines of their own."""
    return _commented(base if base is not None else specs())
