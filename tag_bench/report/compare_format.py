"""The text outputs of a comparison: terminal table, GitHub-flavoured Markdown and JUnit XML.

Values and differences are shown x100 (rates in percent, points for differences), as in every table
of tag-bench; the JSON output (``Comparison.model_dump_json``) keeps the raw numbers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

from tag_bench._text import table
from tag_bench.report.compare import Comparison, MetricComparison, TaskComparison

_MARK = {
    "regressed": "❌",
    "within tolerance": "⚠️",
    "improved": "✅",
    "no significant change": "➖",
    "not computed": "–",
}


def value(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def signed(v: float | None) -> str:
    if v is None:
        return "–"
    text = f"{100 * v:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def interval(lo: float | None, hi: float | None) -> str:
    return "–" if lo is None or hi is None else f"[{signed(lo)}, {signed(hi)}]"


def p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.2g}"


def verdict_text(m: MetricComparison) -> str:
    if m.verdict in ("regressed", "within tolerance") and m.tolerance:
        return f"{m.verdict} (max drop {100 * m.tolerance:.1f})"
    return m.verdict


def method_note(c: Comparison) -> str:
    """How the numbers were computed, in one paragraph."""
    tol = ", ".join(f"{k} {100 * v:.1f}" for k, v in c.max_drop.items()) or "none (any significant worsening)"
    return (
        f"Δ = NEW − BASE over the same samples, in points (values ×100). {100 * c.ci:g} % CI of Δ: paired "
        f"bootstrap over samples, {c.n_resamples:,} resamples, seed {c.seed}. p: exact McNemar test for "
        f"accuracy, paired bootstrap otherwise; Holm-adjusted across all {c.n_comparisons} comparisons of this "
        f"report together (every task × metric with a p-value), significant at p (Holm) ≤ {c.alpha:g}. A significant worsening is a regression unless it is within its tolerance "
        f"(max drop, points: {tol})."
    )


def summary_line(c: Comparison) -> str:
    counts = Counter[str](m.verdict for m in c.rows())
    tally = ", ".join(f"{counts[v]} {v}" for v in _MARK if counts[v])
    if c.regressions:
        listed = [f"{m.task} {m.metric} {signed(m.diff)}" for m in c.regressions[:6]]
        more = len(c.regressions) - len(listed)
        worst = "; ".join(listed) + (f"; and {more} more" if more > 0 else "")
        return f"REGRESSED: {len(c.regressions)} metric(s) worse beyond tolerance ({worst}). All: {tally}."
    return f"OK: nothing regressed beyond tolerance. All: {tally}."


def _task_head(t: TaskComparison) -> list[str]:
    shared = f"{t.n:,} samples" + (
        f" (shared of BASE {t.n_base:,} / NEW {t.n_new:,})" if t.intersected else ""
    )
    ref = t.au_reference or "none"
    flags = {
        side: "" if s == "complete" else f" [INCOMPLETE: {s}]"
        for side, s in (("b", t.base_status), ("n", t.new_status))
    }
    return [
        f"{t.task} (v{t.version}, protocol {t.protocol}, AU reference {ref}): {shared}",
        f"  BASE {t.base_name}  {t.base_run}{flags['b']}",
        f"  NEW  {t.new_name}  {t.new_run}{flags['n']}",
    ]


def _mcnemar_line(t: TaskComparison) -> str:
    mc = t.mcnemar
    return (
        f"McNemar (accuracy): NEW right where BASE is wrong on {mc.new_only_correct} samples, BASE right where "
        f"NEW is wrong on {mc.base_only_correct}; exact p = {mc.p_value:.2g}"
    )


def _not_computed(t: TaskComparison) -> list[str]:
    """One line per reason, naming every metric it applies to."""
    by_reason: dict[str, list[str]] = {}
    for m in t.metrics:
        if m.reason:
            by_reason.setdefault(m.reason, []).append(m.metric)
    return [f"{', '.join(names)}: {reason}" for reason, names in by_reason.items()]


def render_text(c: Comparison) -> str:
    """The terminal report."""
    out: list[str] = []
    for t in c.tasks:
        out += _task_head(t)
        rows = [
            [m.metric, value(m.value_base), value(m.value_new), signed(m.diff), interval(m.ci_low, m.ci_high),
             p_text(m.p_value), p_text(m.p_holm), verdict_text(m)]
            for m in t.metrics
        ]  # fmt: skip
        head = ["metric", "BASE", "NEW", "Δ", f"{100 * c.ci:g}% CI of Δ", "p", "p Holm", "verdict"]
        out += ["", table(head, rows, right=(1, 2, 3, 5, 6)), "", _mcnemar_line(t)]
        notes = _not_computed(t)
        if notes:
            out += ["Not computed:", *[f"  {line}" for line in notes]]
        out.append("")
    for side, tasks in (("BASE", c.only_in_base), ("NEW", c.only_in_new)):
        if tasks:
            out.append(f"Only in {side}, not compared: {', '.join(tasks)}")
    out += [method_note(c), "", summary_line(c)]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(c: Comparison) -> str:
    """GitHub-flavoured Markdown (a CI step summary)."""
    status = (
        f"❌ {len(c.regressions)} regression{'s' if len(c.regressions) != 1 else ''}"
        if c.regressions
        else "✅ no regression"
    )
    out = [f"## tag-bench compare: {status}", ""]
    for t in c.tasks:
        shared = f"{t.n:,} samples" + (
            f" (only the shared ones: BASE has {t.n_base:,}, NEW {t.n_new:,})" if t.intersected else ""
        )
        out += [
            f"### {_md(t.task)} — {shared}",
            "",
            f"BASE **{_md(t.base_name)}** (`{_md(t.base_run)}`{', ' + t.base_status if t.base_status != 'complete' else ''})"
            f" vs NEW **{_md(t.new_name)}** (`{_md(t.new_run)}`{', ' + t.new_status if t.new_status != 'complete' else ''});"
            f" task v{t.version}, protocol `{_md(t.protocol)}`, AU reference `{_md(t.au_reference or 'none')}`.",
            "",
            f"| metric | BASE | NEW | Δ | {100 * c.ci:g}% CI of Δ | p | p (Holm) | verdict |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for m in t.metrics:
            cells = [f"`{m.metric}`", value(m.value_base), value(m.value_new), signed(m.diff),
                     interval(m.ci_low, m.ci_high), p_text(m.p_value), p_text(m.p_holm),
                     f"{_MARK[m.verdict]} {verdict_text(m)}"]  # fmt: skip
            if m.verdict == "regressed":
                cells[-1] = f"**{cells[-1]}**"
            out.append("| " + " | ".join(_md(x) for x in cells) + " |")
        out += ["", _md(_mcnemar_line(t)) + "."]
        notes = _not_computed(t)
        if notes:
            out += ["", "Not computed:", *[f"- {_md(n)}" for n in notes]]
        out.append("")
    for side, tasks in (("BASE", c.only_in_base), ("NEW", c.only_in_new)):
        if tasks:
            out += [f"**Only in {side}, not compared:** {', '.join(_md(t) for t in tasks)}", ""]
    if c.warnings:
        out += ["Warnings:", *[f"- {_md(w)}" for w in c.warnings], ""]
    out += [_md(method_note(c)), "", f"**{_md(summary_line(c))}**", ""]
    return "\n".join(out)


def render_junit(c: Comparison) -> str:
    """JUnit XML: one ``testcase`` per task × metric; a regression is a ``failure`` with the numbers."""
    suites = ET.Element("testsuites", name="tag-bench compare")
    total = Counter[str]()
    for t in c.tasks:
        suite = ET.SubElement(suites, "testsuite", name=t.task)
        props = ET.SubElement(suite, "properties")
        for key, val in (("base_run", t.base_run), ("new_run", t.new_run), ("base_name", t.base_name),
                         ("new_name", t.new_name), ("samples", str(t.n)), ("au_reference", t.au_reference or "none"),
                         ("method", method_note(c))):  # fmt: skip
            ET.SubElement(props, "property", name=key, value=val)
        counts = Counter[str]()
        for m in t.metrics:
            case = ET.SubElement(
                suite, "testcase", name=m.metric, classname=f"tag-bench.compare.{t.task}", time="0"
            )
            numbers = _numbers(m)
            counts["tests"] += 1
            if m.verdict == "regressed":
                counts["failures"] += 1
                failure = ET.SubElement(
                    case, "failure", type="regression", message=f"{m.metric} regressed: {numbers}"
                )
                failure.text = f"{t.task} / {m.metric}: {numbers}"
            elif m.verdict == "not computed":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=m.reason or "not computed")
            else:
                ET.SubElement(case, "system-out").text = f"{verdict_text(m)}: {numbers}"
        _counts(suite, counts)
        total.update(counts)
    for side, other, tasks in (("BASE", "NEW", c.only_in_base), ("NEW", "BASE", c.only_in_new)):
        for task in tasks:
            suite = ET.SubElement(suites, "testsuite", name=task)
            case = ET.SubElement(
                suite, "testcase", name="(every metric)", classname=f"tag-bench.compare.{task}", time="0"
            )
            ET.SubElement(case, "skipped", message=f"task {task} is only in {side}: {other} has no run of it")
            counts = Counter({"tests": 1, "skipped": 1})
            _counts(suite, counts)
            total.update(counts)
    _counts(suites, total)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _numbers(m: MetricComparison) -> str:
    better = "higher" if m.higher_is_better else "lower"
    return (
        f"BASE {value(m.value_base)} -> NEW {value(m.value_new)} (Δ {signed(m.diff)} points, CI "
        f"{interval(m.ci_low, m.ci_high)}, p {p_text(m.p_value)} ({m.test or 'no test'}), p Holm {p_text(m.p_holm)}; "
        f"{better} is better; max drop {100 * m.tolerance:.1f})"
    )


def _counts(element: ET.Element, counts: Counter[str]) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        element.set(key, str(counts[key]))
    element.set("time", "0")
