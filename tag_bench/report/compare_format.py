"""The text outputs of a comparison: terminal table, GitHub-flavoured Markdown and JUnit XML.

Values and differences are shown in each metric's unit through :func:`tag_bench.scoring.units.format_value`
(rates in percent, their differences in points), as in every table of tag-bench; the JSON output
(``Comparison.model_dump_json``) keeps the raw numbers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter

from tag_bench._text import table
from tag_bench.report.compare import MISSING, Comparison, MetricComparison, TaskComparison
from tag_bench.scoring.aggregate import mcnemar_metric_names
from tag_bench.scoring.metric_table import spec
from tag_bench.scoring.units import UNITS, format_value

_MARK = {
    "regressed": "❌",
    "within tolerance": "⚠️",
    "improved": "✅",
    "no significant change": "➖",
    "not computed": "–",
    "informational": "ℹ️",
    "vanished": "❌",
    "not run": "❌",
}


def value(m: MetricComparison, v: float | None) -> str:
    return format_value(m.unit, v)


def signed(m: MetricComparison, v: float | None) -> str:
    text = format_value(m.unit, v, signed=True)
    return text[1:] if text.startswith(("+", "-")) and float(text) == 0 else text


def interval(m: MetricComparison, lo: float | None, hi: float | None) -> str:
    return "–" if lo is None or hi is None else f"[{signed(m, lo)}, {signed(m, hi)}]"


def amount(m: MetricComparison | str, v: float) -> str:
    """A tolerance: points for a rate, else the value with its unit."""
    unit = UNITS[m.unit if isinstance(m, MetricComparison) else spec(m).unit]
    return format_value(unit.name, v) + ("" if unit.name == "rate" else f" {unit.symbol}")


def p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.0001" if p < 1e-4 else f"{p:.2g}"


def verdict_text(m: MetricComparison) -> str:
    if m.verdict in ("regressed", "within tolerance") and m.tolerance:
        what = "max drop" if m.higher_is_better is not None else "max change"
        return f"{m.verdict} ({what} {amount(m, m.tolerance)})"
    return m.verdict


def _tests(rows: list[MetricComparison]) -> str:
    """Which test gave the p-values: McNemar for the shares of all samples among the compared metrics
    (named from the metric table), the paired bootstrap for the others."""
    compared = {m.metric for m in rows}
    exact = [name for name in mcnemar_metric_names() if name in compared]
    others = any(m.metric not in exact for m in rows)
    if not exact:
        return "paired bootstrap"
    shares = "a share of all samples" if len(exact) == 1 else "shares of all samples"
    head = f"exact McNemar test for {', '.join(exact)} ({shares}, paired yes/no per sample)"
    return head + (", paired bootstrap otherwise" if others else "")


def method_note(c: Comparison) -> str:
    """How the numbers were computed, in one paragraph."""
    tol = (
        ", ".join(f"{k} {amount(k, v)}" for k, v in c.max_drop.items()) or "none (any significant worsening)"
    )
    rows = c.rows()
    units = [UNITS[u] for u in dict.fromkeys(m.unit for m in rows) if u != "rate"]
    other = f"; {', '.join(u.phrase for u in units)} otherwise, Δ in the same unit" if units else ""
    informational = (
        " Informational metrics (usage: latency, tokens, throughput) get no verdict and no Holm correction "
        "unless a tolerance names them; a quantile or run-level figure has no test and is judged by its Δ "
        "alone; a metric without a better direction regresses when it moves either way beyond its tolerance."
        if any(not m.gated or spec(m.metric).informational for m in rows)
        else ""
    )
    return (
        f"Δ = NEW − BASE over the same samples, in points (values ×100){other}. {100 * c.ci:g} % CI of Δ: paired "
        f"bootstrap over samples, {c.n_resamples:,} resamples, seed {c.seed}. p: {_tests(rows)}; Holm-adjusted across all {c.n_comparisons} comparisons of this "
        f"report together (every task × metric with a p-value), significant at p (Holm) ≤ {c.alpha:g}. A significant worsening is a regression unless it is within its tolerance "
        f"(max drop, points: {tol}).{informational}"
    )


def summary_line(c: Comparison) -> str:
    counts = Counter[str](m.verdict for m in c.rows())
    tally = ", ".join(f"{counts[v]} {v}" for v in _MARK if counts[v])
    lost = f" Tasks BASE has and NEW lacks: {', '.join(c.vanished_tasks)}." if c.vanished_tasks else ""
    allowed = ""
    if c.allow_missing and (c.missing or c.only_in_base):
        what = [f"{m.label} {m.metric} ({m.verdict})" for m in c.missing] + [
            f"task {t}" for t in c.only_in_base
        ]
        allowed = f" Allowed to be missing (--allow-missing): {'; '.join(what)}."
    if c.regressions or c.vanished_tasks:
        listed = [
            f"{m.label} {m.metric} {signed(m, m.diff) if m.verdict == 'regressed' else m.verdict}"
            for m in c.regressions[:6]
        ]
        more = len(c.regressions) - len(listed)
        worst = "; ".join(listed) + (f"; and {more} more" if more > 0 else "")
        gone = any(m.verdict in MISSING for m in c.regressions)
        how = "worse beyond tolerance or gone from NEW" if gone else "worse beyond tolerance"
        head = f"REGRESSED: {len(c.regressions)} metric(s) {how} ({worst})." if listed else "REGRESSED:"
        return f"{head}{lost} All: {tally}.{allowed}"
    return f"OK: nothing regressed beyond tolerance. All: {tally}.{allowed}"


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
        f"{t.label} (v{t.version}, protocol {t.protocol}, AU reference {ref}): {shared}",
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
            [m.metric, value(m, m.value_base), value(m, m.value_new), signed(m, m.diff),
             interval(m, m.ci_low, m.ci_high), p_text(m.p_value), p_text(m.p_holm), verdict_text(m)]
            for m in t.metrics
        ]  # fmt: skip
        head = ["metric", "BASE", "NEW", "Δ", f"{100 * c.ci:g}% CI of Δ", "p", "p Holm", "verdict"]
        out += ["", table(head, rows, right=(1, 2, 3, 5, 6)), "", _mcnemar_line(t)]
        notes = _not_computed(t)
        if notes:
            out += ["Not computed:", *[f"  {line}" for line in notes]]
        out.append("")
    out += _only_lines(c)
    out += [method_note(c), "", summary_line(c)]
    return "\n".join(out) + "\n"


def _only_lines(c: Comparison) -> list[str]:
    """Tasks on one side only: BASE's fail the gate (the run of NEW is missing) unless --allow-missing."""
    out = []
    if c.only_in_base:
        fate = "allowed by --allow-missing" if c.allow_missing else "vanished from NEW: this fails the gate"
        out.append(f"Only in BASE ({fate}): {', '.join(c.only_in_base)}")
    if c.only_in_new:
        out.append(f"Only in NEW, not compared: {', '.join(c.only_in_new)}")
    return out


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
            f"### {_md(t.label)} — {shared}",
            "",
            f"BASE **{_md(t.base_name)}** (`{_md(t.base_run)}`{', ' + t.base_status if t.base_status != 'complete' else ''})"
            f" vs NEW **{_md(t.new_name)}** (`{_md(t.new_run)}`{', ' + t.new_status if t.new_status != 'complete' else ''});"
            f" task v{t.version}, protocol `{_md(t.protocol)}`, AU reference `{_md(t.au_reference or 'none')}`.",
            "",
            f"| metric | BASE | NEW | Δ | {100 * c.ci:g}% CI of Δ | p | p (Holm) | verdict |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for m in t.metrics:
            cells = [f"`{m.metric}`", value(m, m.value_base), value(m, m.value_new), signed(m, m.diff),
                     interval(m, m.ci_low, m.ci_high), p_text(m.p_value), p_text(m.p_holm),
                     f"{_MARK[m.verdict]} {verdict_text(m)}"]  # fmt: skip
            if m.verdict == "regressed":
                cells[-1] = f"**{cells[-1]}**"
            out.append("| " + " | ".join(_md(x) for x in cells) + " |")
        out += ["", _md(_mcnemar_line(t)) + "."]
        notes = _not_computed(t)
        if notes:
            out += ["", "Not computed:", *[f"- {_md(n)}" for n in notes]]
        out.append("")
    for line in _only_lines(c):
        out += [f"**{_md(line)}**", ""]
    if c.warnings:
        out += ["Warnings:", *[f"- {_md(w)}" for w in c.warnings], ""]
    out += [_md(method_note(c)), "", f"**{_md(summary_line(c))}**", ""]
    return "\n".join(out)


def render_junit(c: Comparison) -> str:
    """JUnit XML: one ``testcase`` per task × metric; a regression is a ``failure`` with the numbers."""
    suites = ET.Element("testsuites", name="tag-bench compare")
    total = Counter[str]()
    failing = c.regressions
    for t in c.tasks:
        suite = ET.SubElement(suites, "testsuite", name=t.label)
        props = ET.SubElement(suite, "properties")
        for key, val in (("base_run", t.base_run), ("new_run", t.new_run), ("base_name", t.base_name),
                         ("new_name", t.new_name), ("samples", str(t.n)), ("au_reference", t.au_reference or "none"),
                         ("method", method_note(c))):  # fmt: skip
            ET.SubElement(props, "property", name=key, value=val)
        counts = Counter[str]()
        for m in t.metrics:
            case = ET.SubElement(
                suite, "testcase", name=m.metric, classname=f"tag-bench.compare.{t.label}", time="0"
            )
            numbers = _numbers(m)
            counts["tests"] += 1
            if m in failing:
                counts["failures"] += 1
                kind = "regression" if m.verdict == "regressed" else m.verdict.replace(" ", "-")
                detail = numbers if m.verdict == "regressed" else f"{m.reason}; {numbers}"
                failure = ET.SubElement(
                    case, "failure", type=kind, message=f"{m.metric} {m.verdict}: {detail}"
                )
                failure.text = f"{t.label} / {m.metric}: {detail}"
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
            message = f"task {task} is only in {side}: {other} has no run of it"
            if task in c.vanished_tasks:
                ET.SubElement(case, "failure", type="vanished", message=message)
                counts = Counter({"tests": 1, "failures": 1})
            else:
                ET.SubElement(case, "skipped", message=message)
                counts = Counter({"tests": 1, "skipped": 1})
            _counts(suite, counts)
            total.update(counts)
    _counts(suites, total)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _numbers(m: MetricComparison) -> str:
    better = {True: "higher is better", False: "lower is better", None: "no better direction"}[
        m.higher_is_better
    ]
    return (
        f"BASE {value(m, m.value_base)} -> NEW {value(m, m.value_new)} (Δ {signed(m, m.diff)} "
        f"{UNITS[m.unit].diff_phrase}, CI {interval(m, m.ci_low, m.ci_high)}, p {p_text(m.p_value)} "
        f"({m.test or 'no test'}), p Holm {p_text(m.p_holm)}; {better}; max drop {amount(m, m.tolerance)})"
    )


def _counts(element: ET.Element, counts: Counter[str]) -> None:
    for key in ("tests", "failures", "errors", "skipped"):
        element.set(key, str(counts[key]))
    element.set("time", "0")
