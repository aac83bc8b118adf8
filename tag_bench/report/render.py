"""Leaderboard tables as text: Markdown, LaTeX (booktabs), CSV, JSON, HTML.

Formats are registered in :data:`FORMATS` (a new format is one function and one ``register`` line).
Every format shows the same cells and follows the same marks; values are printed in their metric's
unit (:func:`tag_bench.scoring.units.format_value`: rates in percent with ``decimals`` places, other
units with their own precision; a published number with the decimals its source printed); ``ci`` is ``none``, ``pm`` (``± h`` where the 95 % interval is symmetric
about the value at the printed precision, ``[lo, hi]`` where it is not) or ``brackets`` (always
``[lo, hi]``).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

from tag_bench._registry import Registry
from tag_bench.report.table import CITE_MARK, Cell, Column, Group, PublishedCell, Row, Table
from tag_bench.scoring.units import UNITS, format_value, units_note

CIStyle = Literal["none", "pm", "brackets"]


@dataclass(frozen=True)
class RenderOptions:
    decimals: int = 1
    ci: CIStyle = "pm"
    caption: str | None = None  # overrides the spec's
    label: str | None = None  # LaTeX \label


Renderer = Callable[[Table, RenderOptions], str]
FORMATS: Registry[Renderer] = Registry("table format")


def render(table: Table, fmt: str, options: RenderOptions | None = None) -> str:
    return FORMATS.get(fmt)(table, options or RenderOptions())


# --------------------------------------------------------------------------------------------------
# Numbers


def number(col: Column, x: float | None, o: RenderOptions, digits: int | None = None) -> str:
    """One number of a column, in the column metric's unit ("" for none); ``digits``: the decimals of a
    published number (as its source printed it) instead of the table's."""
    return "" if x is None else format_value(col.unit, x, o.decimals if digits is None else digits)


def _digits(c: Cell) -> int | None:
    return c.decimals if isinstance(c, PublishedCell) else None


def cell_text(col: Column, c: Cell, o: RenderOptions) -> tuple[str, str]:
    """(value, CI) as printed: the value is "–" without one; the CI is "" when not shown, ``± h`` (``pm``)
    when the interval is symmetric about the value at the printed precision, else ``[lo, hi]``. An
    interval such as Wilson's [0.0, 39.0] around 0.0 is never printed as "0.0 ± 19.5"."""
    if c.value is None:
        return "–", ""
    digits = _digits(c)
    value = number(col, c.value, o, digits)
    if o.ci == "none" or c.ci_low is None or c.ci_high is None:
        return value, ""
    low, high = number(col, c.ci_low, o, digits), number(col, c.ci_high, o, digits)
    if o.ci == "pm":
        half = symmetric_half_width(value, low, high)
        if half is not None:
            return value, f"± {half}"
    return value, f"[{low}, {high}]"


def symmetric_half_width(value: str, low: str, high: str) -> str | None:
    """The distance from the printed value to either printed bound when the two are equal (the interval is
    symmetric as a reader sees it), in the same digits; else None."""
    digits = len(value.partition(".")[2])
    below = round(float(value) - float(low), digits)
    above = round(float(high) - float(value), digits)
    return f"{above:.{digits}f}" if below == above else None


def _columns(table: Table) -> list[Column]:
    return [col for g in table.groups for col in g.columns]


def _cells(table: Table, r: Row) -> list[tuple[Column, Cell]]:
    """A row's cells with their columns, left to right."""
    return [
        (col, c)
        for g, cells in zip(table.groups, r.cells, strict=True)
        for col, c in zip(g.columns, cells, strict=True)
    ]


def row_label(r: Row) -> str:
    """The row's name and marks (a published row: its setting, its source's cite, §)."""
    if r.published is not None:
        return f"{r.name} ({r.published.setting}) {CITE_MARK}{r.published.key}{CITE_MARK} §"
    label = r.name + (f" ({r.train_source})" if r.train_source else "")
    return label + (" †" if r.oracle else "") + (" ‡" if r.incomplete else "") + (" ✗" if r.failed else "")


def _ci_note(o: RenderOptions, table: Table) -> str | None:
    units = units_note([UNITS[col.unit] for col in _columns(table)])
    methods = {c.ci_method for r in table.rows for g in r.cells for c in g if c.ci_low is not None}
    if o.ci == "none" or not methods:
        return f"{units}."
    how = (
        "95 % confidence interval as ± half-width where it is symmetric, else [low, high]"
        if o.ci == "pm"
        else "[low, high]: the 95 % confidence interval"
    )
    quantile = (
        "; distribution-free order-statistic interval for quantiles" if "order-statistic" in methods else ""
    )
    boundary = (
        "; Wilson on the contributing samples for a bootstrap rate at 0 % or 100 %"
        if "wilson-boundary" in methods
        else ""
    )
    published = "; Wilson on the source's n for § rows that give it" if "wilson-published" in methods else ""
    paired = (
        "; Newcombe's paired interval for a gap where every sample gives the same difference"
        if "newcombe-paired" in methods
        else ""
    )
    return (
        f"{units}; {how} (Wilson for sample-level rates, seeded bootstrap over samples otherwise{boundary}"
        f"{paired}{quantile}{published})."
    )


def _hardware_note(table: Table) -> str | None:
    cols = [col.title for col in _columns(table) if col.hardware_dependent]
    if not cols:
        return None
    return (
        f"{', '.join(dict.fromkeys(cols))}: measured on each run's own hardware and serving set-up (batch size, "
        "concurrency, device in its manifest); compare them only between runs made alike."
    )


def _marks_note(table: Table, second: str) -> str | None:
    if not any(c.mark for r in table.rows for g in r.cells for c in g):
        return None
    best = "Bold: best"
    if table.significant_marks:
        best += " and significantly better than the runner-up on the same samples (paired test, p < 0.05)"
    excluded = (
        "oracle and published rows"
        if any(r.published for r in table.rows) and not table.published_marks
        else "oracle rows"
    )
    return f"{best}; {second}: second ({excluded} excluded)."


def _notes(table: Table, o: RenderOptions, second: str = "italics") -> list[str]:
    return [
        n for n in (*table.notes, _hardware_note(table), _marks_note(table, second), _ci_note(o, table)) if n
    ]


def plain_cites(text: str) -> str:
    """Cites (``table.cite``) as ``[key]``: every format but LaTeX."""
    parts = text.split(CITE_MARK)
    return "".join(f"[{p}]" if i % 2 else p for i, p in enumerate(parts))


# --------------------------------------------------------------------------------------------------
# Markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def render_markdown(table: Table, o: RenderOptions) -> str:
    """GitHub-flavoured Markdown: best in bold, second in italics."""
    head = ["Model"]
    for g in table.groups:
        prefix = g.title + (f" ({g.detail})" if g.detail else "")
        head += [f"{prefix}<br>{c.title}" if prefix else c.title for c in g.columns]
    lines = []
    if table.title:
        lines += [f"### {table.title}", ""]
    lines.append("| " + " | ".join(_md_escape(h) for h in head) + " |")
    lines.append("|" + "|".join([":---"] + ["---:"] * table.n_columns()) + "|")
    for r in table.rows:
        cells = [_md_escape(plain_cites(row_label(r)))]
        for col, c in _cells(table, r):
            value, ci = cell_text(col, c, o)
            text = f"{value} {ci}" if ci else value
            cells.append(f"**{text}**" if c.mark == "best" else f"_{text}_" if c.mark == "second" else text)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    notes = _notes(table, o)
    lines += [plain_cites(n) + ("  " if i < len(notes) - 1 else "") for i, n in enumerate(notes)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# LaTeX

_TEX = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}", "†": r"$^\dagger$", "‡": r"$^\ddagger$", "–": "--",
    "−": "--", "±": r"$\pm$", "✗": r"$^\times$", "§": r"$^\S$",
}  # fmt: skip


def tex_escape(text: str) -> str:
    """Every LaTeX special character escaped (and the few Unicode signs tables use, as commands)."""
    return "".join(_TEX.get(ch, ch) for ch in text)


def tex_text(text: str) -> str:
    """``text`` escaped, with its cites (``table.cite``) as ``\\cite{key}``."""
    parts = text.split(CITE_MARK)
    return "".join(rf"\cite{{{p}}}" if i % 2 else tex_escape(p) for i, p in enumerate(parts))


#: What the LaTeX layout plans with (pt): the text and column width of a two-column page (IEEE 516 / 252,
#: letter paper with 0.75 in margins 506 / 248; ACL's 455 / 219 are narrower). A tabular that comes out
#: wider than its line (a narrower page, or a rough estimate) is scaled down to the line width by
#: ``\resizebox`` (graphicx), so no table ever overflows; stacking keeps that scaling small.
TEX_TEXT_WIDTH = 500.0
TEX_COLUMN_WIDTH = 240.0
_TEX_COLSEP = 4.0  # \tabcolsep
#: Preamble a document needs for these tables (also written as the first line of each).
TEX_PACKAGES = ("booktabs", "graphicx")


def _tex_len(text: str, scale: float = 1.0) -> float:
    r"""The rough width (pt) of ``text`` in Computer Modern at \small (measured: digits 4.6 pt, lower case
    4.5, upper case 6.6); ``scale`` 1.15 for bold, 0.86 for \scriptsize."""
    width = 0.0
    for ch in text:
        if ch.isdigit():
            width += 4.6
        elif ch.isupper():
            width += 6.6
        elif ch in ".,:;'!|":
            width += 2.3
        elif ch in " ()[]-":
            width += 3.1
        else:
            width += 4.5
    return width * scale


def _tex_lines(title: str) -> list[str]:
    """A column title on one line, or on two (split at the space nearest its middle) when it is long."""
    words = title.split(" ")
    if len(title) <= 7 or len(words) < 2:
        return [title]
    cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
    return [" ".join(words[:cut]), " ".join(words[cut:])]


def _tex_stack(lines: list[str], align: str = "c") -> str:
    """Lines stacked in one cell (a nested tabular: no package needed)."""
    if len(lines) == 1:
        return tex_escape(lines[0])
    return (
        rf"\begin{{tabular}}[b]{{@{{}}{align}@{{}}}}"
        + r"\\".join(tex_escape(x) for x in lines)
        + r"\end{tabular}"
    )


def _tex_group_head(g: Group) -> list[str]:
    return [g.title, f"({g.detail})"] if g.title and g.detail else [g.title or g.detail or ""]


def _tex_width(texts: list[str], script: list[str] | None = None, bold: bool = False) -> float:
    r"""The rough printed width of the widest of ``texts`` (plus a \scriptsize part), without padding."""
    widest = max((_tex_len(t, 1.15 if bold else 1.0) for t in texts), default=0.0)
    return widest + max((_tex_len(" " + t, 0.86) for t in script or []), default=0.0)


#: Each cell's :func:`cell_text` by ``id(cell)``: the LaTeX layout measures what it then prints.
_Texts = dict[int, tuple[str, str]]


def _tex_plan(table: Table, texts: _Texts) -> tuple[list[list[int]], float]:
    """Column groups packed, in order, into blocks that fit the text width; and the widest block's width."""
    label = _tex_width(["Model", *(plain_cites(row_label(r)) for r in table.rows)]) + _TEX_COLSEP
    widths = []
    for gi, g in enumerate(table.groups):
        cols = 0.0
        for ci, col in enumerate(g.columns):
            shown = [texts[id(r.cells[gi][ci])] for r in table.rows]
            body = max((_tex_width([v], [c] if c else None, bold=True) for v, c in shown), default=0.0)
            cols += max(body, _tex_width(_tex_lines(col.title))) + 2 * _TEX_COLSEP
        widths.append(max(cols, _tex_width(_tex_group_head(g)) + 2 * _TEX_COLSEP))
    blocks: list[list[int]] = []
    width = label
    for gi, w in enumerate(widths):
        if blocks and width + w <= TEX_TEXT_WIDTH:
            blocks[-1].append(gi)
            width += w
        else:
            blocks.append([gi])
            width = label + w
    widest = max((label + sum(widths[gi] for gi in b) for b in blocks), default=label)
    return blocks or [[]], widest


def _tex_block(table: Table, groups: list[int], texts: _Texts) -> list[str]:
    """One tabular of the row labels and the columns of ``groups``, scaled down only if it is too wide."""
    gs = [table.groups[gi] for gi in groups]
    n = sum(len(g.columns) for g in gs)
    out = [r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%"]
    out.append(rf"\begin{{tabular}}{{@{{}}l{'r' * n}@{{}}}}")
    out.append(r"\toprule")
    if any(g.title or g.detail for g in gs):
        heads, rules, first = [""], [], 2
        for g in gs:
            k = len(g.columns)
            heads.append(rf"\multicolumn{{{k}}}{{c}}{{{_tex_stack(_tex_group_head(g))}}}")
            rules.append(rf"\cmidrule(lr){{{first}-{first + k - 1}}}")
            first += k
        out.append(" & ".join(heads) + r" \\")
        out.append("".join(rules))
    titles = ["Model"] + [_tex_stack(_tex_lines(c.title), "r") for g in gs for c in g.columns]
    out.append(" & ".join(titles) + r" \\")
    out.append(r"\midrule")
    for i, r in enumerate(table.rows):
        if i and table.rows[i - 1].published and not r.published:
            out.append(r"\midrule")  # published rows above the runs, as papers set prior work
        cells = [tex_text(row_label(r))]
        for gi in groups:
            for c in r.cells[gi]:
                value, ci = texts[id(c)]
                text = tex_escape(value)
                if c.mark == "best":
                    text = rf"\textbf{{{text}}}"
                elif c.mark == "second":
                    text = rf"\underline{{{text}}}"
                if ci:
                    text += rf" {{\scriptsize {tex_escape(ci)}}}"
                cells.append(text)
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}}"]
    return out


def render_latex(table: Table, o: RenderOptions) -> str:
    """A booktabs table that fits a two-column page: a header row per column group (\\multicolumn +
    \\cmidrule), long titles on two lines, best in bold, second underlined, notes in a footnote-size
    paragraph, \\caption and \\label. ``table`` when it fits one column, else ``table*``; column groups
    that do not fit the text width side by side are stacked in several tabulars (each with the model
    column), and a tabular still too wide is scaled to the line width. Needs booktabs and graphicx."""
    texts = {id(c): cell_text(col, c, o) for r in table.rows for col, c in _cells(table, r)}
    blocks, width = _tex_plan(table, texts)
    env = "table" if len(blocks) == 1 and width <= TEX_COLUMN_WIDTH else "table*"
    out = [rf"% \usepackage{{{','.join(TEX_PACKAGES)}}}", rf"\begin{{{env}}}[t]", r"\centering", r"\small",
           r"\setlength{\tabcolsep}{4pt}"]  # fmt: skip
    for i, groups in enumerate(blocks):
        if i:
            out.append(r"\par\medskip")
        out += _tex_block(table, groups, texts)
    notes = _notes(table, o, second="underlined")
    if notes:
        out.append(r"\par\smallskip{\footnotesize " + " ".join(tex_text(x) for x in notes) + r"\par}")
    caption = o.caption if o.caption is not None else (table.caption or table.title)
    if caption:
        out.append(rf"\caption{{{tex_escape(caption)}}}")
    if o.label:
        out.append(rf"\label{{{o.label}}}")
    out.append(rf"\end{{{env}}}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------
# CSV, JSON, HTML


def render_csv(table: Table, o: RenderOptions) -> str:
    """One row per model: each column's value and 95 % interval as shown (rates in percent), and its mark.
    With published rows, a ``published`` column holds their source's citation key."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    published = any(r.published for r in table.rows)
    head = ["model", "train_source", "oracle", "incomplete", "failed"] + (["published"] if published else [])
    for g in table.groups:
        prefix = g.title + (f" ({g.detail})" if g.detail else "")
        for col in g.columns:
            head += [f"{prefix}/{col.metric}", f"{prefix}/{col.metric}/ci_low", f"{prefix}/{col.metric}/ci_high",
                     f"{prefix}/{col.metric}/mark"]  # fmt: skip
    w.writerow(head)
    for r in table.rows:
        line: list[object] = [r.name, r.train_source or "", int(r.oracle), int(r.incomplete), int(r.failed)]
        if published:
            line.append(r.published.key if r.published else "")
        for col, c in _cells(table, r):
            digits = _digits(c)
            line += [
                number(col, c.value, o, digits),
                number(col, c.ci_low, o, digits),
                number(col, c.ci_high, o, digits),
                c.mark or "",
            ]
        w.writerow(line)
    return buf.getvalue()


def render_json(table: Table, o: RenderOptions) -> str:
    """Everything in the table, values in their metric's unit as stored (rates in [0, 1], not rounded),
    marks and notes; a published row also has ``published`` (its source and model), and its cells the
    decimals their source printed, the place in the source and the protocol status."""
    doc = {
        "spec": table.spec,
        "title": table.title,
        "caption": o.caption if o.caption is not None else table.caption,
        "groups": [asdict(g) for g in table.groups],
        "rows": [
            {
                "name": r.name,
                "train_source": r.train_source,
                "oracle": r.oracle,
                "incomplete": r.incomplete,
                "failed": r.failed,
                "runs": [None if x is None else str(x.run.path) for x in r.runs],
                "cells": [[asdict(c) for c in g] for g in r.cells],
                **({"published": asdict(r.published)} if r.published else {}),
            }
            for r in table.rows
        ],
        "notes": [plain_cites(n) for n in _notes(table, o)],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_html(table: Table, o: RenderOptions) -> str:
    """An HTML ``<table>`` (a fragment, styled by classes ``best`` and ``second``)."""
    e = html.escape
    parts = ['<table class="leaderboard">', "<thead>"]
    if len(table.groups) > 1:
        parts.append("<tr><th></th>" + "".join(
            f'<th colspan="{len(g.columns)}">{e(g.title + (f" ({g.detail})" if g.detail else ""))}</th>'
            for g in table.groups) + "</tr>")  # fmt: skip
    parts.append(
        "<tr><th>Model</th>"
        + "".join(f"<th>{e(c.title)}</th>" for g in table.groups for c in g.columns)
        + "</tr>"
    )
    parts += ["</thead>", "<tbody>"]
    for r in table.rows:
        tds = []
        for col, c in _cells(table, r):
            value, ci = cell_text(col, c, o)
            cls = f' class="{c.mark}"' if c.mark else ""
            title = f' title="{e(c.reason)}"' if c.reason else ""
            ci_html = f' <span class="ci">{e(ci)}</span>' if ci else ""
            tds.append(f"<td{cls}{title}>{e(value)}{ci_html}</td>")
        parts.append(f"<tr><th>{e(plain_cites(row_label(r)))}</th>{''.join(tds)}</tr>")
    parts += ["</tbody>", "</table>"]
    parts += [f'<p class="note">{e(plain_cites(n))}</p>' for n in _notes(table, o, second="underlined")]
    return "\n".join(parts) + "\n"


for _name, _fn in (("md", render_markdown), ("latex", render_latex), ("csv", render_csv), ("json", render_json),
                   ("html", render_html)):  # fmt: skip
    FORMATS.register(_name, _fn, source="tag-bench")
