"""The tables of docs/report.md made from the code: the figure kinds (:data:`~tag_bench.report.plots.FIGURES`)
and the sample browser's status filters (:data:`~tag_bench.report.browse.FLAGS`).

Each sits between ``<!-- NAME: generated ... -->`` and ``<!-- end of NAME -->``; ``make docs`` rewrites
them (:func:`update`, through :mod:`tag_bench._docs`) and a test keeps the file in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tag_bench.report.browse import FLAGS
from tag_bench.report.plots import DEFAULT_WORST, SCOPE_WORDS, figure_kinds


def kinds_table() -> str:
    rows = ["| kind | figure | scope | in the HTML report |", "|---|---|---|---|"]
    for k in figure_kinds():
        text = f"{k.caption} {k.details}".strip()
        rows.append(f"| `{k.name}` | {text} | {SCOPE_WORDS[k.scope]} | {'yes' if k.in_report else 'no'} |")
    rows.append(f"| `all` | every kind above (overlays of the {DEFAULT_WORST} worst samples of each run unless "
                "`--sample` / `--worst`) | | |")  # fmt: skip
    return "\n".join(rows) + "\n"


def filters_table() -> str:
    rows = ["| filter | what it selects |", "|---|---|"]
    rows += [f"| {f.label} | {f.definition} |" for f in FLAGS.values()]
    return "\n".join(rows) + "\n"


#: Block name -> its text.
TABLES: dict[str, Callable[[], str]] = {"figure kinds": kinds_table, "status filters": filters_table}


def update(text: str) -> str:
    """``text`` with every generated table made anew."""
    for name, make in TABLES.items():
        block = re.search(rf"<!-- {re.escape(name)}: generated [^\n]*-->\n(.*?)<!-- end of {re.escape(name)} -->",
                          text, re.S)  # fmt: skip
        if block is None:
            raise ValueError(f"no generated block {name!r} in the text")
        text = text[: block.start(1)] + make() + text[block.end(1) :]
    return text
