"""``tag-bench run``, ``models``, ``demo`` and ``leaderboard``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from tag_bench.schema import BOX_FRAMES

#: Headline metrics printed after a run.
SUMMARY = ["accuracy", "balanced_accuracy", "macro_f1", "parse_failure_rate", "au_box_iou",
           "grounding_precision@0.5", "hallucinated_au_rate", "grounded_accuracy"]  # fmt: skip


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean 'the user asked for something impossible': shown as a message, no traceback."""
    from tag_bench._optional import MissingExtraError
    from tag_bench.data.base import DatasetError
    from tag_bench.generate.evaluate import RunConfigError
    from tag_bench.images import ImageLoadError
    from tag_bench.models.replay import PredictionsError
    from tag_bench.rundir import RunDirError
    from tag_bench.scoring.run import ScoringError
    from tag_bench.tasks import TaskError

    return (
        MissingExtraError, DatasetError, RunConfigError, RunDirError, ImageLoadError, PredictionsError, ScoringError,
        TaskError, ValueError, FileNotFoundError,
    )  # fmt: skip


def setup_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")


def format_summary(task: str, model: str, run_dir: Path, report: Any) -> str:
    m = report.metrics
    lines = [f"{task} × {model}  (N={report.n}) -> {run_dir}"]
    for name in SUMMARY:
        v = m.get(name)
        if v is None or v.value is None:
            reason = report.not_computed.get(name, "not computed")
            lines.append(f"  {name:<26} –   ({reason})")
        else:
            ci = "" if v.ci_low is None else f"  [{100 * v.ci_low:5.1f}, {100 * v.ci_high:5.1f}]"
            lines.append(f"  {name:<26} {100 * v.value:5.1f}{ci}")
    failures = {k: c for k, c in report.status_counts.items() if k != "ok" and c}
    if failures:
        lines.append("  failures: " + ", ".join(f"{k}={c}" for k, c in sorted(failures.items())))
    if report.au_reference:
        lines.append(f"  AU reference: {report.au_reference}")
    return "\n".join(lines)


@click.command("run")
@click.option(
    "--model", required=True, help="Adapter: hf, vllm, openai, replay, facs-rules, random, majority."
)
@click.option(
    "--model-args", default="", help="k=v,... e.g. pretrained=Qwen/Qwen2.5-VL-7B-Instruct,dtype=bfloat16"
)
@click.option("--tasks", required=True, help="Comma-separated task names (see `tag-bench tasks`).")
@click.option("--data-root", type=click.Path(), help="Folder holding the dataset(s).")
@click.option("--prompt", help="Prompt id (tag_grounded, cot, direct); default: the task's.")
@click.option("--batch-size", type=click.IntRange(1), default=1, show_default=True)
@click.option("--limit", type=click.IntRange(1), help="Evaluate only the first N samples of each task.")
@click.option("--gen-kwargs", default="", help="k=v,... e.g. max_new_tokens=512,temperature=0")
@click.option("--au-reference", default="auto", show_default=True,
              help="AU reference for grounding: a detector name, a references JSONL, 'auto' or 'none'.")  # fmt: skip
@click.option("--out", type=click.Path(), help="Run directory (one task) or parent folder (several tasks).")
@click.option("--results-dir", type=click.Path(), default="results", show_default=True)
@click.option("--train-source", help="Dataset the checkpoint was tuned on (for transfer tables).")
@click.option("--box-frame", type=click.Choice(BOX_FRAMES), help="Override the adapter's declared box frame.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--cache", "cache_path", type=click.Path(), help="Generation cache file (default: ~/.cache/tag-bench)."
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the generation cache.")
@click.option("--tasks-dir", multiple=True, type=click.Path(), help="Extra folder of task YAMLs.")
@click.option("--n-resamples", type=click.IntRange(0), default=1000, show_default=True)
@click.option("--overwrite", is_flag=True, help="Discard an existing run in the target directory.")
@click.option("--no-progress", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary per task.")
def run_cmd(model, model_args, tasks, data_root, prompt, batch_size, limit, gen_kwargs, au_reference, out,
            results_dir, train_source, box_frame, seed, cache_path, no_cache, tasks_dir, n_resamples,
            overwrite, no_progress, as_json):  # fmt: skip
    """Evaluate a model on one or more tasks: generate, then score (resumable, cached)."""
    from tag_bench.generate.evaluate import evaluate

    setup_logging()
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    cache: Any = False if no_cache else (cache_path or True)
    for name in names:
        run_out = None if out is None else (Path(out) if len(names) == 1 else Path(out) / name)
        try:
            result = evaluate(
                name, model, model_args, data_root=data_root, prompt=prompt, batch_size=batch_size,
                limit=limit, gen_kwargs=gen_kwargs, au_reference=au_reference, out=run_out,
                results_dir=results_dir, train_source=train_source, box_frame=box_frame, seed=seed,
                cache=cache, tasks_dirs=list(tasks_dir), n_resamples=n_resamples, overwrite=overwrite,
                progress=not no_progress,
            )  # fmt: skip
        except KeyboardInterrupt:
            click.echo(
                "\ninterrupted: what was generated is saved; run the same command again to resume.", err=True
            )
            raise SystemExit(130) from None
        except user_errors() as e:
            raise click.ClickException(str(e)) from e
        for w in result.warnings:
            click.echo(f"warning: {w}", err=True)
        if result.report is None:  # a non-main rank of a data-parallel run
            continue
        if as_json:
            click.echo(
                json.dumps(
                    {"task": name, "run_dir": str(result.run_dir), **result.report.model_dump(mode="json")}
                )
            )
        else:
            click.echo(format_summary(name, model, result.run_dir, result.report))
            for msg in result.stats.error_messages:
                click.echo(f"  error: {msg}", err=True)


# Declared frames of the built-in adapters (the hf/vllm adapters pick one per model family).
_ADAPTER_HELP: dict[str, str] = {
    "hf": "transformers image-text-to-text models (Qwen2/2.5/3-VL, LLaVA, InternVL-hf, Gemma 3, Idefics3, ...)",
    "vllm": "vLLM offline engine (GPU)",
    "openai": "any OpenAI-compatible chat-completions endpoint",
    "replay": "a JSONL of responses produced elsewhere",
    "facs-rules": "baseline: AU reference -> nearest EMFACS prototype -> TAG trace (oracle reference)",
    "random": "baseline: seeded random label and boxes (chance floor)",
    "majority": "baseline: the split's most frequent label, no evidence",
}


def declared_frames() -> dict[str, str]:
    try:
        from tag_bench.models._frames import FAMILY_FRAMES
    except ImportError:  # pragma: no cover - the table ships with the hf adapter
        FAMILY_FRAMES = {}
    family = ", ".join(f"{k}={v[0]}" for k, v in sorted(FAMILY_FRAMES.items()))
    per_family = f"per model family ({family}); --box-frame overrides" if family else "per model family"
    return {
        "hf": per_family + ", other families: pixel with a warning", "vllm": per_family,
        "openai": "pixel (overridable)",
        "replay": "given by --frame / each line", "facs-rules": "pixel", "random": "pixel", "majority": "none (no boxes)",
    }  # fmt: skip


@click.command("models")
@click.option("--json", "as_json", is_flag=True)
def models_cmd(as_json):
    """List model adapters and the box frame each declares."""
    from tag_bench.models.base import adapter_names

    frames = declared_frames()
    rows = [{"name": n, "description": _ADAPTER_HELP.get(n, "plug-in adapter"), "frame": frames.get(n, "declared by the plug-in")}
            for n in adapter_names()]  # fmt: skip
    if as_json:
        click.echo(json.dumps({"adapters": rows}, indent=2))
        return
    for r in rows:
        click.echo(f"{r['name']:<11} {r['description']}\n{'':<11} frame: {r['frame']}")


@click.command("demo")
@click.option("--out", type=click.Path(), default="results/demo", show_default=True)
@click.option("--au-reference", default="mediapipe-geometric", show_default=True)
@click.option("--n-resamples", type=click.IntRange(0), default=1000, show_default=True)
@click.option("--no-progress", is_flag=True)
def demo_cmd(out, au_reference, n_resamples, no_progress):
    """Run the offline demo: facs-rules and random on public-domain faces, then a leaderboard."""
    from tag_bench.generate.evaluate import evaluate
    from tag_bench.report.leaderboard import load_row, render_latex, render_markdown

    setup_logging()
    out = Path(out)
    rows = []
    for model in ("facs-rules", "random"):
        click.echo(f"== demo: {model}", err=True)
        try:
            result = evaluate("demo", model, au_reference=au_reference, out=out / model, overwrite=True,
                              cache=False, n_resamples=n_resamples, progress=not no_progress)  # fmt: skip
        except user_errors() as e:
            raise click.ClickException(str(e)) from e
        for w in result.warnings:
            click.echo(f"warning: {w}", err=True)
        click.echo(format_summary("demo", model, result.run_dir, result.report), err=True)
        rows.append(load_row(result.run_dir))
    md = render_markdown(rows, title="tag-bench demo (offline, public-domain faces)")
    (out / "leaderboard.md").write_text(md, encoding="utf-8")
    (out / "leaderboard.tex").write_text(render_latex(rows, caption="tag-bench demo."), encoding="utf-8")
    click.echo(md)
    click.echo(
        f"written: {out / 'leaderboard.md'}, {out / 'leaderboard.tex'}, run directories under {out}/",
        err=True,
    )


@click.command("leaderboard")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "latex"]), default="md", show_default=True)
@click.option("--no-ci", is_flag=True, help="Values only, no confidence intervals.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def leaderboard_cmd(run_dirs, fmt, no_ci, output):
    """Render a leaderboard (Markdown or LaTeX) from scored run directories."""
    from tag_bench.report.leaderboard import load_row, render_latex, render_markdown
    from tag_bench.rundir import RunDirError

    try:
        rows = [load_row(d) for d in run_dirs]
    except (FileNotFoundError, ValueError, RunDirError) as e:
        raise click.ClickException(str(e)) from e
    text = render_markdown(rows, with_ci=not no_ci) if fmt == "md" else render_latex(rows, with_ci=not no_ci)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text)
