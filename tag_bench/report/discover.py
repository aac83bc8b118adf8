"""Finding scored runs under the paths a user gives, and the name each run goes by in tables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tag_bench.errors import TagBenchError
from tag_bench.rundir import NestedRunError, RunDir, is_judge_run
from tag_bench.schema import RunManifest


class NoRunsError(TagBenchError):
    """No run directory was found where the user pointed."""


@dataclass
class Discovery:
    """Run directories found, and why other folders given or met on the way were skipped."""

    runs: list[RunDir] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def discover_runs(paths: list[str | os.PathLike[str]], *, require: bool = True) -> Discovery:
    """Every run directory among ``paths`` or below them (a run's own ``references/`` is not searched).

    A path that is a run is taken as it is; any other folder is searched recursively. A run without
    ``metrics.json`` is skipped with a note (score it first). Raises NoRunsError when ``require`` and
    nothing is found, and NestedRunError naming both folders when a run directory holds another (or a
    path given lies inside one): a table never silently leaves a run out.
    """
    found = Discovery()
    seen: set[str] = set()  # real paths: one folder reached by two paths given (or a link) counts once
    for p in map(Path, paths):
        if not p.exists():
            raise NoRunsError(f"{p} does not exist")
        outer = RunDir(p).enclosing_run()
        if outer is not None:
            raise _nested(p, outer)
        run_paths = _run_dirs(p)
        for run_path, real, scored in run_paths:
            if real in seen:
                continue
            seen.add(real)
            run = RunDir(run_path)
            if not scored:
                hint = (
                    "run the `tag-bench judge` command that made it again"
                    if is_judge_run(run_path)
                    else run.unscored_hint()
                )
                found.skipped.append(f"{run_path}: not scored yet ({hint})")
                continue
            found.runs.append(run)
        if p.is_dir() and not run_paths:
            found.skipped.append(f"{p}: no run directory (no manifest.json) in it or below it")
    if require and not found.runs:
        why = "; ".join(found.skipped) or "nothing there"
        raise NoRunsError(f"no scored run directory found in {', '.join(map(str, paths))} ({why})")
    return found


def _run_dirs(path: Path) -> list[tuple[Path, str, bool]]:
    """(run directory, its real path, whether it holds metrics.json) of each run at or below ``path``, in
    order; one below another is a NestedRunError. Read off one walk, with no call per run: a folder of
    5,000 runs is found in well under a second."""
    if not path.is_dir():
        return (
            [(path, os.path.realpath(path), RunDir(path).metrics_path.exists())]
            if RunDir(path).is_run()
            else []
        )
    top = str(path)
    real_top = os.path.realpath(top)
    out: list[tuple[Path, str, bool]] = []
    found: set[str] = set()  # the runs met so far, as os.walk names them (a set: 5,000 runs stay linear)
    for root, dirs, files in os.walk(top):
        if RunDir.MANIFEST in files:
            # os.walk goes top-down: a run enclosing this one was met before, and is one of its ancestors
            outer = next((a for a in _ancestors(root, top) if a in found), None)
            if outer is not None:
                raise _nested(Path(root), Path(outer))
            found.add(root)
            # os.walk follows no link below the top: the real path is the top's followed by the same names
            real = os.path.normpath(os.path.join(real_top, root[len(top) :].lstrip(os.sep)))
            out.append((Path(root), real, RunDir.METRICS in files))
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(out)


def _ancestors(root: str, top: str) -> list[str]:
    """The folders from ``top`` down to ``root``'s parent, spelt as os.walk spells them below ``top``."""
    out = []
    while len(root) > len(top):
        root = os.path.dirname(root)
        out.append(root)
    return out


def _nested(inner: Path, outer: Path) -> NestedRunError:
    return NestedRunError(
        f"{inner} is a run directory inside the run directory {outer}; a run directory never holds another, "
        f"and tables would drop one of them: move {inner} out of {outer}"
    )


def display_name(manifest: RunManifest) -> str:
    """The name a run goes by in tables: ``--name``, else one read off the model, never a full path.

    ``hf`` with ``pretrained=/ckpt/qwen-7b-ft`` -> ``qwen-7b-ft``; a hub id stays (``Qwen/Qwen2.5-VL-7B``);
    ``openai`` -> its model name; ``replay`` -> the predictions file's stem; baselines -> their name.
    """
    if manifest.name:
        return manifest.name
    args = manifest.model.args
    adapter = manifest.model.adapter
    if adapter == "replay" and args.get("predictions"):
        return Path(str(args["predictions"])).stem
    main = args.get("pretrained") or args.get("model")
    if not main:
        return adapter
    main = str(main)
    if main.startswith(("/", "./", "../", "~")) or (os.sep in main and Path(main).expanduser().exists()):
        return Path(main.rstrip("/")).name or adapter
    return main
