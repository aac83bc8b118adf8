"""Do two versions of tag-bench write the same scored outputs?

A refactoring must not change a single number, and a new metric must not change the old ones. This
script runs a fixed set of evaluations through the command line (the demo, every dataset task on
generated fixtures with the three baselines, replayed mixed-format responses scored against a
synthetic AU reference, a run without a reference, a re-score, replayed free-text answers) once with the code of a base git
revision and once with the working tree, then compares ``metrics.json`` and ``samples.jsonl`` of every
run. A file that is not byte for byte the same is parsed on both sides (``samples.jsonl`` line by line:
the same number of lines, the same samples in the same order) and every difference is classed:

- added: a key only the new side has (a new metric, a new field), listed by key path with the number
  of files (and records) it was added in;
- removed: a key only the base has;
- changed: a different value or type, with the first examples (file, key path, old, new);
- reordered: the keys both sides have, in another order (``metrics.json`` keeps the table's order).

Exit status 1 on anything removed, changed or reordered (and on a run, file, line or sample that does
not line up); additions alone are reported and exit 0, unless ``--strict`` (then any difference that is
not byte-identical fails, formatting included).

``--parser-change`` is for a change of the parser that may re-read free-text answers (a new
``SCORING_VERSION``): a changed ``samples.jsonl`` record is accepted, and reported as *re-read free
text* with examples, when the response had no explicit answer cue (``tag_bench.parsing.
explicit_answer_cue``: no answer tag, ``\\boxed{}``, JSON answer, "final answer:", "Emotion:" field,
lone label line, or tag inside the reasoning: so only the free-text reader could have changed it) and
only the fields a label follows changed (``pred``, ``status``, ``correct``, ``evidence_consistent``,
``grounded_correct``, ``parsed.label`` / ``status`` / ``raw_label`` / ``notes``); every other change
still fails. In a run with re-read samples, ``metrics.json`` changes are reported as following from
them; ``scoring_version`` going up is expected everywhere. The responses come from each run's
``generations.jsonl``, which snapshots keep beside the outputs.

    .venv/bin/python bench/output_identity.py --base HEAD        # working tree vs the last commit
    .venv/bin/python bench/output_identity.py --snapshot DIR     # only write this tree's outputs
    .venv/bin/python bench/output_identity.py --against DIR      # working tree vs a snapshot written before
    .venv/bin/python bench/output_identity.py --compare-snapshots OLD NEW
    .venv/bin/python bench/output_identity.py --base 9def662 --parser-change   # a new SCORING_VERSION

``--smoke`` runs 6 of the 33 runs, one of each kind (seconds; ``make bench-smoke``); compare snapshots
of the same size. Both sides run in the same temporary folder so that paths inside messages agree, and
the outputs name that folder ``<work>``, so that snapshots of different invocations compare.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench.parsing import explicit_answer_cue

REPO = Path(__file__).resolve().parents[1]
# one folder per invocation (made in main), shared by both sides so that paths inside messages agree
WORK = Path(tempfile.gettempdir()) / "tag-bench-identity"
WORK_MARK = "<work>"

#: task -> fixture variant holding its dataset
TASKS = {
    "rafdb_basic_test": "raf_basic",
    "rafdb_basic_test_common7": "raf_basic",
    "ferplus_test": "ferplus",
    "ferplus_test_common7": "ferplus",
    "affectnet7_val": "affectnet_csv",
    "affectnet8_val": "affectnet_csv",
    "affectnet_val_common7": "affectnet_csv",
}
BASELINES = ("facs-rules", "random", "majority")
DEMO_MODELS = ("facs-rules", "random")
# --smoke: one run of each kind. rafdb_basic_test comes first in TASKS, so its inputs (and outputs)
# are the same as in the full set.
SMOKE_TASKS = {"rafdb_basic_test": "raf_basic"}
SMOKE_MODELS = ("facs-rules",)
OUTPUTS = ("metrics.json", "samples.jsonl")
#: kept beside the outputs for --parser-change (the responses), never compared
RESPONSES = "generations.jsonl"
#: the fields of a scored sample that follow from its label (--parser-change)
LABEL_FIELDS = frozenset({"pred", "status", "correct", "evidence_consistent", "grounded_correct", "parsed.label",
                          "parsed.status", "parsed.raw_label", "parsed.notes", "parsed.notes[]"})  # fmt: skip
EXAMPLES = 10
# the command line's entry point, wherever the version under test keeps it
_MAIN = """
import os, sys
if os.path.exists(os.path.join(sys.argv[1], "tag_bench", "_cli", "main.py")):
    from tag_bench._cli.main import main
else:
    from tag_bench.cli import main
del sys.argv[1]
main()
"""


def _run(cmd: list[str], code: Path, env: dict[str, str]) -> None:
    full_env = {**os.environ, **env, "PYTHONPATH": str(code)}
    proc = subprocess.run(
        [sys.executable, "-c", _MAIN, str(code), *cmd],
        cwd=WORK,
        env=full_env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): tag-bench {' '.join(cmd)}\n{proc.stderr[-3000:]}")


def _write_inputs(tasks: dict[str, str]) -> dict[str, Path]:
    """Fixtures, replay predictions and a synthetic reference file (identical for both sides)."""
    from tag_bench.tasks import load_task
    from tag_bench.testing.corpus import mixed_corpus
    from tag_bench.testing.fixtures import write_fixtures
    from tag_bench.testing.freetext import freetext_corpus

    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    roots = write_fixtures(WORK / "data", seed=0)
    inputs = {"data": WORK / "data"}
    rng = random.Random(0)
    aus = ["AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]
    for task_name, variant in tasks.items():
        task = load_task(task_name)
        samples = task.load(roots[variant]).samples
        corpus = mixed_corpus(len(samples) * 3, seed=len(task_name))
        pred_lines, ref_lines = [], []
        for i, s in enumerate(samples):
            if i % 7 == 3:
                continue  # a missing prediction
            r = corpus[i * 3]
            pred: dict[str, Any] = {
                "id": s.id,
                "response": r.text,
                "frame": r.frame,
                "finish_reason": r.finish_reason,
            }
            if r.input_size:
                pred["input_size"] = list(r.input_size)
            pred_lines.append(json.dumps(pred))
            w, h = 100, 100
            states = {}
            for au in aus:
                x, y = rng.uniform(0, 70), rng.uniform(0, 70)
                score = rng.random()
                states[au] = {"score": round(score, 4), "active": score >= 0.5, "box": [x, y, x + 20, y + 20]}
            status = "ok" if i % 11 != 5 else "no_face"
            ref = {"reference_id": "synthetic@1", "detector": "synthetic", "version": "1", "threshold": 0.5,
                   "status": status, "sample_id": s.id, "image_size": [w, h],
                   "aus": states if status == "ok" else {}}  # fmt: skip
            ref_lines.append(json.dumps(ref))
        pred_path = WORK / f"{task_name}.predictions.jsonl"
        pred_path.write_text("\n".join(pred_lines) + "\n")
        ref_path = WORK / f"{task_name}.refs.jsonl"
        ref_path.write_text("\n".join(ref_lines) + "\n")
        inputs[f"{task_name}/predictions"] = pred_path
        inputs[f"{task_name}/refs"] = ref_path
        if task_name == "rafdb_basic_test":
            texts = freetext_corpus(len(samples), "tuning", seed=0)
            lines = [
                json.dumps({"id": s.id, "response": x.text}) for s, x in zip(samples, texts, strict=True)
            ]
            path = WORK / "free_text.predictions.jsonl"
            path.write_text("\n".join(lines) + "\n")
            inputs["free_text/predictions"] = path
    return inputs


def snapshot(code: Path, dest: Path, *, smoke: bool = False) -> list[str]:
    """Run every case with the tag-bench found in ``code``; copy its outputs to ``dest``."""
    env = {"TAG_BENCH_CACHE": str(WORK / "cache"), "HF_HUB_OFFLINE": "1"}
    runs = WORK / "runs"
    if runs.exists():
        shutil.rmtree(runs)
    data = WORK / "data"
    cases: list[str] = []
    for model in SMOKE_MODELS if smoke else DEMO_MODELS:
        _run(["run", "--model", model, "--tasks", "demo", "--out", str(runs / f"demo__{model}"),
              "--au-reference", "mediapipe-geometric", "--no-cache", "--no-progress"], code, env)  # fmt: skip
        cases.append(f"demo__{model}")
    for task, variant in (SMOKE_TASKS if smoke else TASKS).items():
        for model in SMOKE_MODELS if smoke else BASELINES:
            name = f"{task}__{model}"
            _run(["run", "--model", model, "--tasks", task, "--data-root", str(data / variant),
                  "--out", str(runs / name), "--au-reference", "mediapipe-geometric", "--no-cache",
                  "--no-progress"], code, env)  # fmt: skip
            cases.append(name)
        name = f"{task}__replay"
        _run(["score", "--task", task, "--data-root", str(data / variant), "--predictions",
              str(WORK / f"{task}.predictions.jsonl"), "--au-reference", str(WORK / f"{task}.refs.jsonl"),
              "--out", str(runs / name), "--no-progress"], code, env)  # fmt: skip
        cases.append(name)
    task, variant = "rafdb_basic_test", "raf_basic"
    _run(["score", "--task", task, "--data-root", str(data / variant), "--predictions",
          str(WORK / f"{task}.predictions.jsonl"), "--au-reference", "none", "--out",
          str(runs / "replay_no_reference"), "--no-progress"], code, env)  # fmt: skip
    cases.append("replay_no_reference")
    rescored = runs / "rescored"
    shutil.copytree(runs / f"{task}__replay", rescored)
    _run(["score", str(rescored), "--au-reference", "mediapipe-geometric", "--n-resamples", "200",
          "--seed", "3", "--no-progress"], code, env)  # fmt: skip
    cases.append("rescored")
    # free-text answers (no explicit cue): what a change of the free-text reader re-reads
    _run(["score", "--task", task, "--data-root", str(data / variant), "--predictions",
          str(WORK / "free_text.predictions.jsonl"), "--au-reference", "none", "--out",
          str(runs / "replay_free_text"), "--no-progress"], code, env)  # fmt: skip
    cases.append("replay_free_text")
    if dest.exists():
        shutil.rmtree(dest)
    for case in cases:
        (dest / case).mkdir(parents=True, exist_ok=True)
        for out in (*OUTPUTS, RESPONSES):
            text = (runs / case / out).read_text(encoding="utf-8")
            (dest / case / out).write_text(text.replace(str(WORK), WORK_MARK), encoding="utf-8")
    return cases


# --------------------------------------------------------------------------------------------------
# comparison

KeyPath = tuple[str | int, ...]
FAILING = ("removed", "changed", "reordered")
ABSENT = object()  # the side of an added or removed key that lacks it (JSON null is None)
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_/@:+-]+")


def render(path: KeyPath, generic: bool = False) -> str:
    """``metrics["grounding_precision@0.5"].value``, ``claims[0].iou`` (``claims[].iou`` when generic)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += "[]" if generic else f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "(the whole record)"


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same JSON type (1 and 1.0 differ: the bytes would)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def walk(old: Any, new: Any, path: KeyPath, emit: Callable[[str, KeyPath, Any, Any], None]) -> None:
    """Emit (kind, key path, old, new) for every difference between two parsed JSON values.

    kind: ``added`` / ``removed`` (a key one side lacks; not descended into), ``reordered`` (the shared
    keys of an object in another order), ``changed`` (anything else, lists of another length included).
    """
    if isinstance(old, dict) and isinstance(new, dict):
        for k in old:
            if k not in new:
                emit("removed", (*path, k), old[k], ABSENT)
        for k in new:
            if k not in old:
                emit("added", (*path, k), ABSENT, new[k])
        shared_old = [k for k in old if k in new]
        shared_new = [k for k in new if k in old]
        if shared_old != shared_new:
            emit("reordered", path, shared_old, shared_new)
        for k in shared_old:
            walk(old[k], new[k], (*path, k), emit)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            walk(a, b, (*path, i), emit)
    elif not _same(old, new):
        emit("changed", path, old, new)


@dataclass
class Group:
    """One key path of one output name: the files and records where a kind of difference occurs."""

    files: set[str] = field(default_factory=set)
    records: int = 0


@dataclass
class Comparison:
    """Everything found comparing two sets of output files."""

    files: int = 0
    identical: int = 0
    formatting: list[str] = field(default_factory=list)  # same values, other bytes
    additions_only: list[str] = field(default_factory=list)
    failing_files: list[str] = field(default_factory=list)
    groups: dict[tuple[str, str, str], Group] = field(default_factory=dict)  # (kind, output, path)
    examples: dict[str, list[str]] = field(default_factory=dict)  # kind -> first examples
    mismatched: list[str] = field(default_factory=list)  # runs, files, lines or samples that do not line up
    # --parser-change: sample_id -> response text per case (None: the option is off)
    responses: dict[str, dict[str, str | None]] | None = None
    reread: dict[str, int] = field(default_factory=dict)  # case -> samples re-read from free text
    reread_examples: list[str] = field(default_factory=list)
    follows: list[str] = field(default_factory=list)  # metrics.json changes that follow from re-read samples
    expected: list[str] = field(default_factory=list)  # scoring_version going up
    parser_files: list[str] = field(default_factory=list)  # files whose differences are all accepted

    def count(self, kind: str) -> int:
        return sum(g.records for (k, _, _), g in self.groups.items() if k == kind)

    @property
    def failed(self) -> bool:
        return bool(self.mismatched) or any(self.count(k) for k in FAILING)

    def exit_code(self, strict: bool) -> int:
        if self.failed:
            return 1
        return 1 if strict and self.identical < self.files else 0

    def file(self, name: str, old: bytes, new: bytes) -> None:
        """Compare one output file (``name``: ``case/metrics.json``) of both sides."""
        self.files += 1
        if old == new:
            self.identical += 1
            return
        output = name.rsplit("/", 1)[-1]
        case = name.rsplit("/", 1)[0]
        kinds: set[str] = set()

        def emit(where: str) -> Callable[[str, KeyPath, Any, Any], None]:
            def on(kind: str, path: KeyPath, a: Any, b: Any) -> None:
                accept = self.responses is not None and output == "metrics.json" and kind != "added"
                if accept and self._accepted(case, kind, path, a, b):
                    kinds.add("accepted")
                    return
                kinds.add(kind)
                group = self.groups.setdefault((kind, output, render(path, generic=True)), Group())
                group.files.add(name)
                group.records += 1
                shown = self.examples.setdefault(kind, [])
                if len(shown) < EXAMPLES:
                    shown.append(f"{where}  {render(path)}: {_short(a)} -> {_short(b)}")

            return on

        try:
            if output.endswith(".jsonl"):
                if self._lines(name, old.decode().splitlines(), new.decode().splitlines(), emit):
                    kinds.add("accepted")
            else:
                walk(json.loads(old), json.loads(new), (), emit(name))
        except ValueError as exc:  # not JSON on one side
            self.mismatched.append(f"{name}: cannot be parsed ({exc})")
            kinds.add("mismatched")
        except _Stop:
            kinds.add("mismatched")
        if "accepted" in kinds and not kinds - {"accepted", "added"}:
            self.parser_files.append(name)
        elif not kinds - {"accepted"}:
            self.formatting.append(name)
        elif kinds == {"added"}:
            self.additions_only.append(name)
        else:
            self.failing_files.append(name)

    def _lines(self, name: str, old: list[str], new: list[str], emit: Callable[[str], Any]) -> bool:
        """Compare the records of a JSON-lines file; True when a record was accepted as re-read."""
        accepted = False
        if len(old) != len(new):
            self.mismatched.append(f"{name}: {len(old)} lines -> {len(new)} lines")
            raise _Stop
        for i, (a, b) in enumerate(zip(old, new, strict=True), 1):
            if a == b:
                continue
            ra, rb = json.loads(a), json.loads(b)
            ida = ra.get("sample_id") if isinstance(ra, dict) else None
            idb = rb.get("sample_id") if isinstance(rb, dict) else None
            if ida != idb:
                self.mismatched.append(
                    f"{name}:{i}: sample {ida!r} -> {idb!r} (the same samples in the same order are required)"
                )
                raise _Stop
            if self.responses is not None and self._reread(name, i, ra, rb):
                accepted = True
                continue
            walk(ra, rb, (), emit(f"{name}:{i}"))
        return accepted

    def _reread(self, name: str, line: int, old: dict, new: dict) -> bool:
        """--parser-change: whether a changed sample is free text re-read (recorded as such)."""
        diffs: list[tuple[str, KeyPath, Any, Any]] = []
        walk(old, new, (), lambda kind, path, a, b: diffs.append((kind, path, a, b)))
        if not diffs or any(render(p, generic=True) not in LABEL_FIELDS for _, p, _, _ in diffs):
            return False
        case = name.rsplit("/", 1)[0]
        text = (self.responses or {}).get(case, {}).get(str(old.get("sample_id")), None)
        if text is None or explicit_answer_cue(text) is not None:
            return False
        self.reread[case] = self.reread.get(case, 0) + 1
        if len(self.reread_examples) < EXAMPLES:
            was = f"{old.get('status')} {old.get('pred')}"
            now = f"{new.get('status')} {new.get('pred')}"
            self.reread_examples.append(f"{name}:{line}  {was} -> {now}  {_short(' '.join(text.split()))}")
        return True

    def _accepted(self, case: str, kind: str, path: KeyPath, a: Any, b: Any) -> bool:
        """--parser-change: a metrics.json difference that is expected or follows from re-read samples."""
        where = f"{case}/metrics.json  {render(path)}: {_short(a)} -> {_short(b)}"
        if (
            path == ("scoring_version",)
            and kind == "changed"
            and isinstance(a, int)
            and isinstance(b, int)
            and b > a
        ):
            self.expected.append(where)
            return True
        if self.reread.get(case):
            self.follows.append(where)
            return True
        return False

    def load_responses(self, side: Path, case: str) -> None:
        """The responses of one run (its generations.jsonl), by sample id."""
        assert self.responses is not None
        path = side / case / RESPONSES
        found: dict[str, str | None] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    found[str(rec.get("sample_id"))] = rec.get("text")
        self.responses[case] = found

    def missing(self, name: str, where: Path) -> None:
        """An output file that only one side has."""
        self.files += 1
        self.mismatched.append(f"{name}: only in {where}")
        self.failing_files.append(name)


class _Stop(Exception):
    """A file whose lines do not line up: reported once, not compared further."""


def _short(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def compare_dirs(old: Path, new: Path, parser_change: bool = False) -> Comparison:
    """Compare every run folder of two snapshots (``metrics.json`` and ``samples.jsonl`` of each).
    ``parser_change``: accept free text re-read by a new parser (see the module's docstring)."""
    result = Comparison(responses={} if parser_change else None)
    cases_old = {p.name for p in old.iterdir() if p.is_dir()}
    cases_new = {p.name for p in new.iterdir() if p.is_dir()}
    for case in sorted(cases_old | cases_new):
        if parser_change:
            result.load_responses(new if (new / case / RESPONSES).exists() else old, case)
        # samples first: a run's metrics.json changes are judged by its re-read samples
        for out in reversed(OUTPUTS) if parser_change else OUTPUTS:
            fa, fb = old / case / out, new / case / out
            if not (fa.exists() and fb.exists()):
                result.missing(f"{case}/{out}", old if fa.exists() else new)
                continue
            result.file(f"{case}/{out}", fa.read_bytes(), fb.read_bytes())
    return result


def summary(c: Comparison, base: str, strict: bool) -> Iterable[str]:
    """The report printed for a comparison, line by line."""
    yield f"{c.files} output files compared with {base}:"
    yield f"  byte-identical             {c.identical}"
    if c.formatting:
        yield f"  same values, other bytes   {len(c.formatting)}   e.g. {c.formatting[0]}"
    if c.parser_files:
        yield f"  differ by the parser change {len(c.parser_files)}  (re-read, following or expected; additions aside)"
    if c.additions_only:
        yield f"  differ only by additions   {len(c.additions_only)}"
    if c.failing_files:
        yield f"  with other differences     {len(c.failing_files)}"
    titles = {
        "added": "added (reported; fails only with --strict)",
        "removed": "removed (fails)",
        "changed": "changed (fails)",
        "reordered": "reordered (fails)",
    }
    for kind, title in titles.items():
        rows = sorted((out, path, g) for (k, out, path), g in c.groups.items() if k == kind)
        if not rows:
            continue
        yield f"{title}: {c.count(kind)} in all"
        for out, path, g in rows:
            where = f"{len(g.files)} file{'s' * (len(g.files) != 1)}"
            if out.endswith(".jsonl"):
                where = f"{g.records:,} record{'s' * (g.records != 1)} in {where}"
            yield f"  {out:14} {path:50} {where}"
        if kind != "added":
            yield "  first examples:"
            yield from (f"    {line}" for line in c.examples[kind])
    if c.responses is not None:
        n = sum(c.reread.values())
        yield f"re-read free text (--parser-change; no explicit answer cue): {n} sample{'s' * (n != 1)} in {len(c.reread)} runs"
        yield from (f"  {case:40} {k}" for case, k in sorted(c.reread.items()))
        if c.reread_examples:
            yield "  first examples:"
            yield from (f"    {line}" for line in c.reread_examples)
        if c.follows:
            yield f"metrics.json values that follow from re-read samples: {len(c.follows)}"
            yield from (f"    {line}" for line in c.follows[:EXAMPLES])
        if c.expected:
            yield f"expected: scoring_version went up in {len(c.expected)} files, e.g. {c.expected[0].split('  ')[0]}"
    if c.mismatched:
        yield f"not lined up (fails): {len(c.mismatched)}"
        yield from (f"  {line}" for line in c.mismatched[:EXAMPLES])
    if c.failed:
        verdict = "DIFFERENT: existing outputs were removed, changed or reordered"
    elif c.identical == c.files:
        verdict = f"identical: every file byte for byte the same as {base}"
    elif c.responses is not None and (c.reread or c.expected):
        verdict = "parser change only: every difference is free text re-read, follows from it, or expected"
    else:
        verdict = "every existing value identical; only " + (
            "additions" if not c.formatting else "additions and formatting"
        )
        verdict += " (--strict: fails)" if strict else ""
    yield verdict


def report(c: Comparison, base: str, strict: bool) -> int:
    for line in summary(c, base, strict):
        print(line)
    return c.exit_code(strict)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--base", help="git revision to compare the working tree against")
    mode.add_argument("--snapshot", type=Path, help="only write this tree's outputs to this folder")
    mode.add_argument("--against", type=Path, help="compare the working tree with a snapshot folder")
    mode.add_argument("--compare-snapshots", type=Path, nargs=2, metavar=("OLD", "NEW"), help="run nothing")
    ap.add_argument("--smoke", action="store_true", help="5 runs, one of each kind (make bench-smoke)")
    ap.add_argument("--strict", action="store_true", help="fail on any difference, additions included")
    ap.add_argument("--parser-change", action="store_true",
                    help="accept samples whose free text (no explicit answer cue) a new parser re-read")  # fmt: skip
    args = ap.parse_args()
    global WORK
    WORK = Path(tempfile.mkdtemp(prefix="tag-bench-identity-"))
    try:
        if args.compare_snapshots:
            old, new = args.compare_snapshots
            return report(compare_dirs(old, new, args.parser_change), str(old), args.strict)
        _write_inputs(SMOKE_TASKS if args.smoke else TASKS)
        if args.snapshot:
            cases = snapshot(REPO, args.snapshot, smoke=args.smoke)
            print(f"{len(cases)} runs written to {args.snapshot}")
            return 0
        out_new = Path(tempfile.mkdtemp(prefix="tag-bench-out-new-"))
        if args.against:
            snapshot(REPO, out_new, smoke=args.smoke)
            return report(
                compare_dirs(args.against, out_new, args.parser_change), str(args.against), args.strict
            )
        base_tree = Path(tempfile.mkdtemp(prefix="tag-bench-base-"))
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base_tree), args.base],
                       check=True, capture_output=True)  # fmt: skip
        try:
            out_base = Path(tempfile.mkdtemp(prefix="tag-bench-out-base-"))
            snapshot(base_tree, out_base, smoke=args.smoke)
            snapshot(REPO, out_new, smoke=args.smoke)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)],
                           capture_output=True)  # fmt: skip
        code = report(compare_dirs(out_base, out_new, args.parser_change), args.base, args.strict)
        print(f"outputs kept: {out_base} (base) and {out_new} (working tree)")
        return code
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
