"""The specs that ship inside the package, listed and built by name.

``bs.list_specs()`` names them, ``bs.create("vit_b16", classes=10, channels=1, size=96)``
(in `api`) compiles one with its `let`s overridden, and every place that takes a spec file takes
``@NAME`` too (``blockspec summary @swin_t``). Each packaged spec exposes its natural
`let`s in capitals (``CHANNELS``, ``SIZE``, ``CLASSES``, ``C`` ...); `create` takes them
in lower case.
"""

from __future__ import annotations

from importlib import resources

from .errors import SpecValueError

__all__ = ["list_specs", "spec_text", "describe", "lets_of", "PREFIX"]

PREFIX = "@"


def _folder():
    return resources.files(__package__).joinpath("specs")


def list_specs() -> list[str]:
    """The names of the packaged specs, sorted."""
    return sorted(
        p.name[: -len(".bspec")] for p in _folder().iterdir() if p.name.endswith(".bspec")
    )


def spec_text(name: str) -> str:
    """The text of packaged spec `name` (with or without the leading ``@``)."""
    name = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    names = list_specs()
    if name not in names:
        from .compiler.diagnostics import did_you_mean

        raise SpecValueError(
            f"no packaged spec named {PREFIX}{name}",
            None,
            did_you_mean(name, names) or f"packaged: {', '.join(names)} (blockspec list)",
        )
    return _folder().joinpath(f"{name}.bspec").read_text(encoding="utf-8")


def describe(name: str) -> str:
    """The one-line description of a packaged spec (its first comment, after the dash)."""
    first = spec_text(name).split("\n", 1)[0]
    return first.split("—", 1)[1].strip() if "—" in first else first.lstrip("# ").strip()


def lets_of(name: str) -> dict[str, str]:
    """The `let`s a packaged spec exposes: name -> its value as written."""
    from .compiler.ast import Let, parse_spec
    from .compiler.printer import format_expr

    spec = parse_spec(spec_text(name), f"{PREFIX}{name}")
    return {st.name: format_expr(st.value) for st in spec.statements if isinstance(st, Let)}
