"""The canonical text of a spec (`blockspec fmt`, `bs.format`, `model.spec`).

Layout is decided by the AST alone: one statement per line, a blank line around sections,
two-space indentation, ``=`` aligned within a section, short `input`/`stem`/`head` sections and
`level`/`stage` entries on one line, parentheses only where precedence needs them. Literals
and block strings are printed as written and every comment is kept: a comment on its own line
stays before the statement or entry that follows it, a comment at the end of a line stays at
the end of the line of the entry it follows. ``parse(format(s)) == parse(s)`` and
``format(format(t)) == format(t)``.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from . import ast as A
from .precedence import needs_parens

__all__ = ["format_spec", "format_expr"]

WIDTH = 100


def format_expr(e: A.Expr) -> str:
    """An expression in canonical form."""
    if isinstance(e, (A.IntLit, A.FloatLit)):
        return e.text
    if isinstance(e, A.StrLit):
        return f'"{e.value}"'
    if isinstance(e, A.BoolLit):
        return "true" if e.value else "false"
    if isinstance(e, A.NameRef):
        return e.name
    if isinstance(e, A.Dynamic):
        return "?"
    if isinstance(e, A.ListExpr):
        return "[" + ", ".join(format_expr(i) for i in e.items) + "]"
    if isinstance(e, A.Neg):
        inner = format_expr(e.operand)
        return f"-({inner})" if needs_parens(e, e.operand) else f"-{inner}"
    if isinstance(e, A.BinOp):
        left, right = format_expr(e.left), format_expr(e.right)
        if needs_parens(e, e.left):
            left = f"({left})"
        if needs_parens(e, e.right):
            right = f"({right})"
        return f"{left} {e.op} {right}"
    raise TypeError(e)  # pragma: no cover


# ----------------------------------------------------------------------------- comments
@dataclass
class _Notes:
    """Comments attached to one node."""

    leading: list[str] = field(default_factory=list)
    trailing: list[str] = field(default_factory=list)
    inner_end: list[str] = field(default_factory=list)  # own-line comments before a '}'


def _expr_lines(e: A.Expr) -> tuple[int, int]:
    lines = [e.span.line]
    stack = [e]
    while stack:
        x = stack.pop()
        lines.append(x.span.line)
        if isinstance(x, A.BinOp):
            stack += [x.left, x.right]
        elif isinstance(x, A.Neg):
            stack.append(x.operand)
        elif isinstance(x, A.ListExpr):
            stack += list(x.items)
    return min(lines), max(lines)


@dataclass
class _Anchor:
    node: object
    start: int
    end: int
    container: object | None  # the section/sub it sits in (None: top level)


def _anchors(spec: A.Spec) -> list[_Anchor]:
    out: list[_Anchor] = []

    def visit(items, container) -> None:
        for it in items:
            if isinstance(it, A.Entry):
                lo, hi = _expr_lines(it.value)
                out.append(_Anchor(it, it.span.line, max(hi, it.span.line), container))
            else:  # Sub
                out.append(_Anchor(it, it.span.line, it.close_span.line, container))
                visit(it.items, it)

    for st in spec.statements:
        if isinstance(st, A.Let):
            lo, hi = _expr_lines(st.value)
            out.append(_Anchor(st, st.span.line, max(hi, st.span.line), None))
        else:
            out.append(_Anchor(st, st.span.line, st.close_span.line, None))
            visit(st.items, st)
    return out


def _attach(spec: A.Spec) -> tuple[dict[int, _Notes], list[str]]:
    """Give every comment to the node it belongs to, in one pass over comments and anchors.

    Comments and anchors both come in source order, so one cursor walks the anchors while the
    comments are visited; the containers that are open at a comment's line are kept on a
    stack, and each container's children are found by bisection on their first lines.
    """
    anchors = _anchors(spec)
    notes: dict[int, _Notes] = {}
    tail: list[str] = []
    children: dict[int, tuple[list[int], list[_Anchor]]] = {}
    for a in anchors:
        starts, kids = children.setdefault(id(a.container), ([], []))
        starts.append(a.start)
        kids.append(a)

    def get(node) -> _Notes:
        return notes.setdefault(id(node), _Notes())

    open_boxes: list[_Anchor] = []  # containers that start before the current line
    seen = 0  # anchors[:seen] start before the current line
    upto = 0  # anchors[:upto] start on or before the current line
    for c in sorted(spec.comments, key=lambda c: (c.line, c.column)):
        while seen < len(anchors) and anchors[seen].start < c.line:
            if isinstance(anchors[seen].node, (A.Section, A.Sub)):
                open_boxes.append(anchors[seen])
            seen += 1
        upto = max(upto, seen)
        while upto < len(anchors) and anchors[upto].start <= c.line:
            upto += 1
        if c.own_line:
            while open_boxes and open_boxes[-1].end < c.line:
                open_boxes.pop()
            box = open_boxes[-1].node if open_boxes else None
            starts, kids = children.get(id(box), ([], []))
            i = bisect_right(starts, c.line)
            if i < len(kids):
                get(kids[i].node).leading.append(c.text)
            elif box is not None:
                get(box).inner_end.append(c.text)
            else:
                tail.append(c.text)
        elif upto:
            get(anchors[upto - 1].node).trailing.append(c.text)
        else:  # pragma: no cover - a comment after code always follows some anchor
            tail.append(c.text)
    return notes, tail


# ----------------------------------------------------------------------------- statements
class _Printer:
    def __init__(self, notes: dict[int, _Notes]) -> None:
        self.notes = notes
        self.lines: list[str] = []

    def n(self, node) -> _Notes:
        return self.notes.get(id(node), _Notes())

    def has_inner_notes(self, sec) -> bool:
        for it in sec.items:
            nn = self.n(it)
            if nn.leading or nn.trailing or nn.inner_end:
                return True
            if isinstance(it, A.Sub) and self.has_inner_notes(it):
                return True
        nn = self.n(sec)
        return bool(nn.inner_end)

    def emit(self, indent: int, text: str, trailing: list[str], column: int = 0) -> None:
        """One line; trailing comments start at `column` (aligned) or two spaces after."""
        line = "  " * indent + text
        if trailing:
            line = line.ljust(column - 2) + "  " + " ".join(trailing)
        self.lines.append(line)

    def leading(self, node, indent: int) -> None:
        for c in self.n(node).leading:
            self.lines.append("  " * indent + c)

    def inline_body(self, items) -> str:
        parts = []
        for it in items:
            if isinstance(it, A.Entry):
                parts.append(f"{it.key} = {format_expr(it.value)}")
            else:
                parts.append(f"{it.kind} {it.index_text} {{ {self.inline_body(it.items)} }}")
        return ", ".join(parts) if parts else ""

    def container(self, head: str, node, indent: int, inline_ok: bool) -> None:
        self.leading(node, indent)
        nn = self.n(node)
        items = node.items
        if inline_ok and not self.has_inner_notes(node) and not nn.trailing:
            body = self.inline_body(items)
            text = f"{head} {{ {body} }}" if body else f"{head} {{}}"
            if len("  " * indent + text) <= WIDTH:
                self.emit(indent, text, [])
                return
        self.emit(indent, f"{head} {{", nn.trailing)
        width = max((len(it.key) for it in items if isinstance(it, A.Entry)), default=0)
        texts = {
            id(it): f"{it.key.ljust(width)} = {format_expr(it.value)}"
            for it in items
            if isinstance(it, A.Entry)
        }
        # the trailing comments of a section's entries line up, as people write them
        commented = [len(texts[id(it)]) for it in items if id(it) in texts and self.n(it).trailing]
        column = 2 * (indent + 1) + max(commented, default=0) + 2
        for it in items:
            if isinstance(it, A.Entry):
                self.leading(it, indent + 1)
                self.emit(indent + 1, texts[id(it)], self.n(it).trailing, column)
            else:
                self.container(f"{it.kind} {it.index_text}", it, indent + 1, True)
        for c in nn.inner_end:
            self.lines.append("  " * (indent + 1) + c)
        self.emit(indent, "}", [])

    def statement(self, st) -> None:
        if isinstance(st, A.Let):
            self.leading(st, 0)
            self.emit(0, f"let {st.name} = {format_expr(st.value)}", self.n(st).trailing)
            return
        head = st.kind if st.name is None else f"{st.kind} {st.name}"
        self.container(head, st, 0, st.kind in ("input", "stem", "head"))


def format_spec(spec: A.Spec) -> str:
    """The canonical text of a parsed spec, comments kept."""
    notes, tail = _attach(spec)
    pr = _Printer(notes)
    prev: object | None = None
    for st in spec.statements:
        if prev is not None and (isinstance(st, A.Section) or isinstance(prev, A.Section)):
            pr.lines.append("")
        pr.statement(st)
        prev = st
    if tail:
        if pr.lines:
            pr.lines.append("")
        pr.lines.extend(tail)
    return "\n".join(pr.lines) + "\n"
