"""Leaderboards from scored run directories: Markdown and LaTeX, every number with its CI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tag_bench.rundir import RunDir, RunDirError
from tag_bench.scoring.metric_table import spec

#: (metric name, column title, higher is better), titles and directions from the metric table
COLUMNS: list[tuple[str, str, bool]] = [
    (m.name, m.title, m.higher_is_better)
    for m in map(
        spec,
        (
            "accuracy",
            "balanced_accuracy",
            "macro_f1",
            "parse_failure_rate",
            "au_box_iou",
            "grounding_precision@0.5",
            "hallucinated_au_rate",
            "evidence_consistency",
            "grounded_accuracy",
        ),
    )
]

ORACLE_NOTE = (
    "reads the AU reference it is scored against: its grounding scores are an upper bound by construction"
)


@dataclass
class Row:
    run_dir: Path
    task: str
    model: str
    n: int
    oracle: bool
    reference: str | None
    metrics: dict[str, dict[str, Any]]
    train_source: str | None = None
    status: str = "complete"
    reference_status_counts: dict[str, int] | None = None


class IncompleteRunError(RunDirError):
    """A run that did not finish generating is not put in a table unless asked."""


def load_row(run_dir: str | Path, *, allow_incomplete: bool = False) -> Row:
    run = RunDir(run_dir)
    manifest = run.read_manifest()
    report = run.read_metrics().model_dump(mode="json")
    if manifest.status != "complete" and not allow_incomplete:
        missing = report.get("status_counts", {}).get("missing", 0)
        raise IncompleteRunError(
            f"{run.path} is an incomplete run ({manifest.status}: {report.get('n', 0) - missing} of "
            f"{report.get('n', 0)} samples generated); resume it with the command that started it, or pass "
            "--allow-incomplete to show it flagged"
        )
    main = manifest.model.args.get("pretrained") or manifest.model.args.get("model")
    name = manifest.model.adapter if not main else f"{manifest.model.adapter}:{main}"
    return Row(
        run_dir=run.path,
        task=manifest.task.name,
        model=name,
        n=int(report.get("n", 0)),
        oracle=manifest.model.oracle_reference,
        reference=report.get("au_reference"),
        metrics=report.get("metrics", {}),
        train_source=manifest.train_source,
        status=manifest.status,
        reference_status_counts=report.get("reference_status_counts"),
    )


def _pct(m: dict[str, Any] | None, with_ci: bool) -> str:
    if not m or m.get("value") is None:
        return "–"
    v = f"{100 * m['value']:.1f}"
    if with_ci and m.get("ci_low") is not None and m.get("ci_high") is not None:
        v += f" [{100 * m['ci_low']:.1f}, {100 * m['ci_high']:.1f}]"
    return v


def _sorted(rows: list[Row]) -> list[Row]:
    def acc(r: Row) -> float:
        v = (r.metrics.get("accuracy") or {}).get("value")
        return -1.0 if v is None else v

    return sorted(rows, key=lambda r: (r.task, -acc(r), r.model))


def _notes(rows: list[Row], with_ci: bool = True) -> list[str]:
    notes = []
    if any(r.oracle for r in rows):
        notes.append(f"† {ORACLE_NOTE}.")
    refs = sorted({r.reference for r in rows if r.reference})
    if len(refs) == 1:
        notes.append(f"Grounding metrics against the AU reference `{refs[0]}`.")
    elif len(refs) > 1:
        notes.append(
            "⚠ Runs were scored against different AU references (" + ", ".join(f"`{r}`" for r in refs) + "); "
            "their grounding metrics are not comparable."
        )
    for r in rows:
        counts = r.reference_status_counts or {}
        failed = {k: v for k, v in counts.items() if k != "ok" and v}
        if r.reference and failed:
            detail = ", ".join(f"{k} {v}" for k, v in sorted(failed.items()))
            notes.append(
                f"{r.task} / {r.model}: AU reference usable for {counts.get('ok', 0)} of {r.n} samples ({detail}); "
                "its grounding metrics cover only those."
            )
    if any(r.status != "complete" for r in rows):
        notes.append(
            "‡ incomplete run (generation did not finish): its samples without a generation count as wrong."
        )
    if any(r.reference is None for r in rows):
        notes.append("– = not computed (no AU reference, or an empty denominator; see metrics.json).")
    notes.append(
        "Rates in %; 95 % confidence intervals in brackets (Wilson for sample-level rates, bootstrap otherwise)."
        if with_ci
        else "Rates in %."
    )
    return notes


def render_markdown(rows: list[Row], *, with_ci: bool = True, title: str | None = None) -> str:
    rows = _sorted(rows)
    header = ["Task", "Model", "N", *[c[1] for c in COLUMNS]]
    lines = []
    if title:
        lines += [f"## {title}", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---", "---", "---:"] + ["---:"] * len(COLUMNS)) + "|")
    for r in rows:
        model = r.model + (" †" if r.oracle else "") + (" ‡" if r.status != "complete" else "")
        cells = [r.task, model, str(r.n), *[_pct(r.metrics.get(c[0]), with_ci) for c in COLUMNS]]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [
        f"{n}  " if i < len(_notes(rows, with_ci)) - 1 else n for i, n in enumerate(_notes(rows, with_ci))
    ]
    return "\n".join(lines) + "\n"


def _tex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        s = s.replace(a, b)
    return s


def render_latex(rows: list[Row], *, with_ci: bool = True, caption: str | None = None) -> str:
    rows = _sorted(rows)
    cols = "ll" + "r" * (1 + len(COLUMNS))
    out = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{cols}}}", r"\toprule"]
    out.append(" & ".join(["Task", "Model", "N", *[_tex_escape(c[1]) for c in COLUMNS]]) + r" \\")
    out.append(r"\midrule")
    best: dict[tuple[str, str], float] = {}
    for name, _, hib in COLUMNS:
        for r in rows:
            v = (r.metrics.get(name) or {}).get("value")
            if v is None or r.oracle:
                continue
            k = (r.task, name)
            if k not in best or (v > best[k] if hib else v < best[k]):
                best[k] = v
    for r in rows:
        cells = [_tex_escape(r.task), _tex_escape(r.model) + (r"$^\dagger$" if r.oracle else ""), str(r.n)]
        for name, _, _ in COLUMNS:
            m = r.metrics.get(name)
            text = _pct(m, with_ci).replace("–", "--")
            if m and m.get("value") is not None and not r.oracle and best.get((r.task, name)) == m["value"]:
                text = rf"\textbf{{{text}}}"
            cells.append(text)
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    notes = " ".join(
        _tex_escape(n.replace("⚠ ", "").replace("`", "")).replace("†", r"$^\dagger$")
        for n in _notes(rows, with_ci)
    )
    out.append(rf"\caption{{{_tex_escape(caption) + ' ' if caption else ''}{notes}}}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"
