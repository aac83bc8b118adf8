"""The run directory: its file names, typed manifest, generation shards and writer lock.

::

    manifest.json        what ran: task, model (secrets redacted), prompt id + hash, gen kwargs, seeds,
                         AU reference, package versions, git revision, status
    index.jsonl          the indexed samples (so the run re-scores without the dataset)
    generations.jsonl    one raw model output per sample (append-only while running)
    generations.shard-<i>-of-<n>.jsonl
                         the outputs of shard i of n (``tag-bench run --shard i/n``, or rank i of a
                         ``torchrun`` / ``accelerate launch`` of n processes), append-only, never merged
    shard-<i>-of-<n>.json
                         that shard's state (status, counts, heartbeat, time), written only by it
    au_references.jsonl  the AU reference of each sample, as used for the current scores
    samples.jsonl        one scored record per sample, failures included (current scores)
    samples.arrays.npz   a columnar copy of samples.jsonl's metric arrays for runs of 20k samples or more,
                         keyed on its sha256 and never served stale (tag_bench.scoring.columnar owns it)
    metrics.json         every metric with its confidence interval (current scores)
    references/<id>/     every AU reference the run was ever scored against (``none``: without one),
                         each with its au_references.jsonl, samples.jsonl and metrics.json; re-scoring
                         against another reference never deletes one
    interventions/       the intervene stage (tag_bench.intervene): plan.jsonl (each sample's filled
                         boxes per condition), summary.json (McNemar, Holm, area bins, per-AU flips),
                         none/generations.jsonl (the unmodified image asked again), and per fill
                         <fill>/<condition>/generations.jsonl, <fill>/outcomes.jsonl and
                         <fill>/metrics.json (the run's scores with that fill's intervention metrics);
                         each set folder may hold scores.jsonl (answer log-probabilities);
                         running other fills or conditions never deletes a set

A judge run directory (``tag-bench judge``, :class:`JudgeRunDir`) holds ``manifest.json`` (with
``"kind": "judge"``: the judge, the rubric, the candidate runs, the samples), ``judgements.jsonl`` (one
record per judge call, append-only) and ``metrics.json`` (the ratings).

Only this module knows these names. An unsharded run directory has one writer at a time
(:meth:`RunDir.lock`). The shards of a sharded run need no lock and no communication: each appends to
its own files, and the manifest is created exclusively (:meth:`RunDir.create_manifest`) by whichever
shard comes first; every other shard checks its configuration against it (:meth:`RunDir.join`).

Every reader sees the union of the generation files (:meth:`RunDir.read_generations`). A sample with
records in several files (a failed attempt retried by another shard, or shards of different counts
that overlapped) resolves deterministically, whatever order the files were written in: an ``ok``
record beats an ``error`` one; otherwise the file later in :meth:`RunDir.generation_paths` order wins
(``generations.jsonl``, then the shard files by count and index), and within one file the later line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tag_bench import store
from tag_bench.errors import TagBenchError
from tag_bench.runinfo import utc_now
from tag_bench.schema import (
    AUReference,
    Generation,
    InterventionOutcome,
    InterventionPlan,
    InterventionSummary,
    JudgeManifest,
    Judgement,
    JudgeReport,
    MetricsReport,
    RunManifest,
    Sample,
    ScoredSample,
    ShardState,
)


class RunDirError(TagBenchError):
    """A folder is not a usable run directory; the message says what is missing and what to do."""


class RunConfigError(RunDirError):
    """The run cannot start as asked (e.g. resuming with a changed configuration)."""


class RunLockedError(RunDirError):
    """Another process is writing this run directory."""


class NestedRunError(RunDirError):
    """A run directory would hold another run directory, or sit inside one."""


#: Manifest facts that must match for a run to be resumed (not the time, the status, the batch size...).
IDENTITY_FIELDS = (
    "task",
    "model_fingerprint",
    "frame",
    "prompt_id",
    "prompt_hash",
    "gen_kwargs",
    "seed",
    "data",
)


def manifest_identity(m: RunManifest) -> dict[str, Any]:
    return {
        "task": (m.task.name, m.task.version, m.task_fingerprint),
        "model_fingerprint": m.model.fingerprint,
        "frame": m.model.frame,
        "prompt_id": m.prompt_id,
        "prompt_hash": m.prompt_hash,
        "gen_kwargs": m.gen_kwargs,
        "seed": m.seeds.get("seed"),
        "data": m.index_sha256,
    }


def _what_changed(field: str, old: RunManifest, new: RunManifest) -> str:
    """What a changed digest of :func:`manifest_identity` stands for, in words a user can act on."""
    if field == "model_fingerprint":
        return f" (model {old.model.adapter} {old.model.args} -> {new.model.adapter} {new.model.args})"
    if field == "data":
        where = (
            f"; data root {old.data_root} -> {new.data_root}, and image paths are part of it"
            if old.data_root != new.data_root
            else ""
        )
        return f" (the index: sample ids, labels, image paths and crops{where})"
    return ""


class RunDir:
    """One run directory on disk."""

    MANIFEST = "manifest.json"
    INDEX = "index.jsonl"
    GENERATIONS = "generations.jsonl"
    AU_REFERENCES = "au_references.jsonl"
    SAMPLES = "samples.jsonl"
    METRICS = "metrics.json"
    LOCK = ".lock"
    REFERENCES_DIR = "references"
    NO_REFERENCE = "none"
    INTERVENTIONS_DIR = "interventions"
    INTERVENTION_PLAN = "plan.jsonl"
    INTERVENTION_SUMMARY = "summary.json"
    INTERVENTION_OUTCOMES = "outcomes.jsonl"
    INTERVENTION_SCORES = "scores.jsonl"  # per set: the original answer's log-probabilities
    UNFILLED = "none"  # the folder of the condition asked on the unmodified image (no fill)
    _RANK_GLOB = "generations.rank*.jsonl"  # data-parallel ranks of versions before --shard
    _SHARD_GLOB = "generations.shard-*-of-*.jsonl"
    _SHARD_NAME = re.compile(r"generations\.shard-(\d+)-of-(\d+)\.jsonl")
    _STATE_GLOB = "shard-*-of-*.json"
    _STATE_NAME = re.compile(r"shard-(\d+)-of-(\d+)\.json")

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------------------------ paths

    @property
    def manifest_path(self) -> Path:
        return self.path / self.MANIFEST

    @property
    def index_path(self) -> Path:
        return self.path / self.INDEX

    @property
    def generations_path(self) -> Path:
        return self.path / self.GENERATIONS

    @property
    def references_path(self) -> Path:
        return self.path / self.AU_REFERENCES

    @property
    def samples_path(self) -> Path:
        return self.path / self.SAMPLES

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    def shard_path(self, index: int, count: int) -> Path:
        """The generations of shard ``index`` of ``count``."""
        return self.path / f"generations.shard-{index}-of-{count}.jsonl"

    def shard_state_path(self, index: int, count: int) -> Path:
        return self.path / f"shard-{index}-of-{count}.json"

    def shard_paths(self) -> list[Path]:
        """Every shard's generation file (and those of older data-parallel ranks), in reading order."""
        ranks = sorted(self.path.glob(self._RANK_GLOB), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
        shards = [p for p in self.path.glob(self._SHARD_GLOB) if self._SHARD_NAME.fullmatch(p.name)]
        return ranks + sorted(shards, key=lambda p: _count_index(self._SHARD_NAME, p))

    def shard_state_paths(self) -> list[Path]:
        states = [p for p in self.path.glob(self._STATE_GLOB) if self._STATE_NAME.fullmatch(p.name)]
        return sorted(states, key=lambda p: _count_index(self._STATE_NAME, p))

    def is_sharded(self) -> bool:
        """Whether shards (``--shard``, or the ranks of a data-parallel launch) have written here."""
        return bool(self.shard_state_paths() or self.shard_paths())

    def generation_paths(self) -> list[Path]:
        """The generation files in reading order: generations.jsonl, then the shards by count and index."""
        return [self.generations_path, *self.shard_paths()]

    # --------------------------------------------------------------------------------- manifest

    def is_run(self) -> bool:
        return self.manifest_path.is_file()

    def enclosing_run(self) -> Path | None:
        """The run directory this folder lies inside, if any (its nearest ancestor with a manifest)."""
        for parent in self.path.resolve().parents:
            if (parent / self.MANIFEST).is_file():
                return parent
        return None

    def nested_runs(self) -> list[Path]:
        """Run directories below this folder (hidden folders skipped, as readers skip them)."""
        if not self.path.is_dir():
            return []
        found = []
        for root, dirs, files in os.walk(self.path):
            if root != str(self.path) and self.MANIFEST in files:
                found.append(Path(root))
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        return found

    def check_placement(self) -> None:
        """Refuse a run directory inside another run directory, or one holding another: readers stop at
        the outer one, and the inner runs would silently drop out of every table."""
        outer = self.enclosing_run()
        if outer is not None:
            raise NestedRunError(
                f"{self.path} lies inside the run directory {outer}, and a run directory never holds another "
                f"(tables would miss one of them): choose a folder outside {outer}"
            )
        inner = self.nested_runs()
        if inner:
            more = f" and {len(inner) - 1} more" if len(inner) > 1 else ""
            raise NestedRunError(
                f"{self.path} holds the run directory {inner[0]}{more}, and a run directory never holds another "
                "(tables would miss them): choose a new or empty folder (with several tasks, --out-dir puts "
                "each run in its own subfolder)"
            )

    def read_manifest(self) -> RunManifest:
        if not self.is_run():
            raise RunDirError(f"{self.path} is not a run directory (no {self.MANIFEST})")
        try:
            return store.read_model(self.manifest_path, RunManifest)
        except ValueError as e:
            if is_judge_run(self.path):
                raise RunDirError(
                    f"{self.path} is a judge run directory (made by `tag-bench judge`), not a model run: "
                    f"`tag-bench leaderboard {self.path} --spec preference` shows its ratings"
                ) from None
            raise RunDirError(
                f"{e}; the run's manifest is damaged: restore it, or start the run again"
            ) from None

    def write_manifest(self, manifest: RunManifest) -> None:
        store.write_json(self.manifest_path, manifest)

    def create_manifest(self, manifest: RunManifest) -> bool:
        """Create the manifest if there is none, exclusively: of several shards starting at once exactly
        one creates it (False: it was there already). The complete file is linked into place, the
        exclusive creation that also holds on NFS (open(2): O_EXCL through link(2))."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{self.MANIFEST}.{socket.gethostname()}.{os.getpid()}.tmp"
        store.write_json(tmp, manifest)
        try:
            os.link(tmp, self.manifest_path)
            return True
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: O_EXCL itself
            try:
                fd = os.open(self.manifest_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as f:
                f.write(tmp.read_bytes())
                f.flush()
                os.fsync(f.fileno())
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def set_status(self, status: str, reason: str | None = None) -> RunManifest:
        m = self.read_manifest()
        m.status = status  # type: ignore[assignment]
        m.status_reason = reason
        self.write_manifest(m)
        return m

    def unscored_hint(self) -> str:
        """What to do to get this run's scores: ``tag-bench score DIR`` when its outputs are all there;
        for a run that did not finish (interrupted, failed, still running), the command that made it,
        run again (re-scoring it would count every sample it did not reach as missing)."""
        score = f"run `tag-bench score {self.path}`"
        try:
            m = self.read_manifest()
        except RunDirError:
            return score
        if m.status == "complete" or (m.status == "failed" and m.generation is not None):
            return score
        why = f" ({m.status_reason})" if m.status_reason else ""
        if self.is_sharded():
            return (
                f"the run did not finish: its status is {m.status}{why}; `tag-bench status {self.path}` shows "
                "which shards are left and the command that finishes them"
            )
        return (
            f"the run did not finish: its status is {m.status}{why}; run the command that made it again to "
            f"finish it: {rerun_command(m.command, self.path, m.cwd)}"
        )

    # ------------------------------------------------------------------------------------ index

    def read_index(self) -> list[Sample]:
        if not self.index_path.exists():
            raise RunDirError(f"{self.path} has no {self.INDEX}; the run was never started properly")
        return store.read_records(self.index_path, Sample)

    def write_index(self, samples: Iterable[Sample]) -> None:
        store.write_jsonl(self.index_path, samples)

    # ------------------------------------------------------------------------------ generations

    def read_generations(self) -> dict[str, Generation]:
        """One generation record per sample: the union of generations.jsonl and every shard's file, each
        duplicate resolved by the rule in the module docstring (ok beats error, then the later file, then
        the later line). A torn last line (a writer mid-append, or killed) is skipped."""
        out: dict[str, Generation] = {}
        for p in self.generation_paths():
            if not p.exists():
                continue
            mine: set[str] = set()
            for g in store.iter_records(p, Generation):
                old = out.get(g.sample_id)
                if old is None or g.sample_id in mine or old.status != "ok" or g.status == "ok":
                    out[g.sample_id] = g
                mine.add(g.sample_id)
        return out

    def repair_generations(self, path: Path | None = None) -> None:
        """Cut a line torn by a crash at the end of ``path`` (default: every generation file; a shard
        repairs only its own, as another shard may be writing the others)."""
        for p in [path] if path is not None else self.generation_paths():
            store.repair_jsonl_tail(p)

    def write_generations(self, records: Iterable[Generation]) -> None:
        store.write_jsonl(self.generations_path, records)

    def remove_shards(self) -> None:
        """Remove every shard's generations and state (after they were merged, or with the run)."""
        for p in [*self.shard_paths(), *self.shard_state_paths()]:
            p.unlink(missing_ok=True)

    # ----------------------------------------------------------------------------- shard states

    def read_shard_states(self) -> list[ShardState]:
        """The state of every shard that ever ran here, by count and index (a damaged one is named)."""
        out = []
        for p in self.shard_state_paths():
            try:
                out.append(store.read_model(p, ShardState))
            except (OSError, ValueError) as e:
                raise RunDirError(f"{e}; run that shard again to rewrite its state") from None
        return out

    def read_shard_state(self, index: int, count: int) -> ShardState | None:
        path = self.shard_state_path(index, count)
        return store.read_model(path, ShardState) if path.exists() else None

    def write_shard_state(self, state: ShardState) -> None:
        store.write_json(self.shard_state_path(state.index, state.count), state)

    def merge_generations(self, order: list[str]) -> dict[str, Generation]:
        """Rewrite generations.jsonl with one record per sample (``order`` first), drop the shards."""
        gens = self.read_generations()
        wanted = set(order)
        ordered = [gens[s] for s in order if s in gens]
        extra = [g for sid, g in gens.items() if sid not in wanted]
        self.write_generations(ordered + extra)
        self.remove_shards()
        return gens

    # ------------------------------------------------------------------------------- references

    def read_references(self, key: str | None = None) -> list[AUReference] | None:
        """The current references, or those saved under ``references/<key>/``; None when there are none."""
        path = self.scores_file(self.AU_REFERENCES, key)
        if not path.exists():
            return None
        return store.read_records(path, AUReference)

    def write_references(self, references: Iterable[AUReference | str], key: str | None = None) -> None:
        """Records, or JSON lines already validated as records (current, or under ``references/<key>/``)."""
        store.write_jsonl(self.scores_file(self.AU_REFERENCES, key), references)

    def remove_references(self) -> None:
        self.references_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ scores per AU reference

    @classmethod
    def reference_key(cls, reference_id: str | None) -> str:
        """The folder name of a reference id under ``references/`` (``none`` without a reference)."""
        if reference_id is None:
            return cls.NO_REFERENCE
        key = "".join(c if c.isalnum() or c in "@._+-" else "_" for c in reference_id)
        return key if key not in ("", ".", "..", cls.NO_REFERENCE) else f"_{key}"

    def scores_dir(self, key: str) -> Path:
        return self.path / self.REFERENCES_DIR / key

    def scores_file(self, name: str, key: str | None = None) -> Path:
        """``name`` (au_references.jsonl, samples.jsonl, metrics.json) of the current scores, or of those
        saved under ``references/<key>/``."""
        return self.path / name if key is None else self.scores_dir(key) / name

    def saved_reference_keys(self) -> list[str]:
        """Every reference the run has scores for (folder names under ``references/``)."""
        root = self.path / self.REFERENCES_DIR
        return sorted(p.name for p in root.iterdir() if (p / self.METRICS).is_file()) if root.is_dir() else []

    def keep_current_scores(self) -> None:
        """Save the current scores under ``references/<their id>/`` if they are not there yet (runs
        scored before that folder existed), so that switching references never loses them."""
        if not self.metrics_path.exists():
            return
        dest = self.scores_dir(self.reference_key(store.read_json(self.metrics_path).get("au_reference")))
        if (dest / self.METRICS).exists():
            return
        dest.mkdir(parents=True, exist_ok=True)
        for src in (self.references_path, self.samples_path, self.metrics_path):
            if src.exists():
                shutil.copyfile(src, dest / src.name)

    def publish_scores(self, key: str) -> None:
        """Make ``references/<key>/`` the current scores: the top-level files become hard links to its
        files (a large run's scores are not stored twice; every writer of score files replaces a file,
        never writes into one), or copies where the file system has no hard links."""
        src = self.scores_dir(key)
        for name in (self.AU_REFERENCES, self.SAMPLES, self.METRICS):
            if (src / name).exists():
                tmp = self.path / f".{name}.publish"
                tmp.unlink(missing_ok=True)
                try:
                    os.link(src / name, tmp)
                except OSError:
                    shutil.copyfile(src / name, tmp)
                os.replace(tmp, self.path / name)
                tmp.unlink(missing_ok=True)  # rename() leaves both names when they link one file already
            elif name == self.AU_REFERENCES:
                self.references_path.unlink(missing_ok=True)  # kept under references/<key>/

    # ------------------------------------------------------------------------------ interventions

    @property
    def interventions_dir(self) -> Path:
        return self.path / self.INTERVENTIONS_DIR

    @property
    def intervention_plan_path(self) -> Path:
        return self.interventions_dir / self.INTERVENTION_PLAN

    @property
    def intervention_summary_path(self) -> Path:
        return self.interventions_dir / self.INTERVENTION_SUMMARY

    @staticmethod
    def _safe(name: str) -> str:
        """A fill or condition as a folder name (``drop:AU12`` -> ``drop-AU12``)."""
        key = "".join(c if c.isalnum() or c in "._+-" else "-" for c in name)
        if key in ("", ".", ".."):
            raise ValueError(f"{name!r} cannot name an intervention set")
        return key

    def fill_dir(self, fill: str) -> Path:
        if fill == self.UNFILLED:
            raise ValueError(f"{fill!r} cannot name a fill (it is the folder of the unfilled condition)")
        return self.interventions_dir / self._safe(fill)

    def intervention_set(self, fill: str, condition: str) -> RunDir:
        """The folder of one intervention set, whose generations are read and written like a run's
        (``generations.jsonl``); the condition ``none`` (no fill) has one folder for every fill."""
        if condition == "none":
            return RunDir(self.interventions_dir / self.UNFILLED)
        return RunDir(self.fill_dir(fill) / self._safe(condition))

    def read_intervention_summary(self) -> InterventionSummary | None:
        path = self.intervention_summary_path
        return store.read_model(path, InterventionSummary) if path.exists() else None

    def write_intervention_summary(self, summary: InterventionSummary) -> None:
        store.write_json(self.intervention_summary_path, summary)

    def intervention_outcomes_path(self, fill: str) -> Path:
        return self.fill_dir(fill) / self.INTERVENTION_OUTCOMES

    def intervention_metrics_path(self, fill: str) -> Path:
        return self.fill_dir(fill) / self.METRICS

    def read_intervention_plan(self) -> list[InterventionPlan] | None:
        path = self.intervention_plan_path
        return store.read_records(path, InterventionPlan) if path.exists() else None

    def write_intervention_plan(self, plans: Iterable[InterventionPlan]) -> None:
        store.write_jsonl(self.intervention_plan_path, plans)

    def read_intervention_outcomes(self, fill: str) -> list[InterventionOutcome]:
        path = self.intervention_outcomes_path(fill)
        if not path.exists():
            raise RunDirError(
                f"{self.path} has no intervention set for the fill {fill!r}; run `tag-bench intervene "
                f"{self.path} --fills {fill}`"
            )
        return store.read_records(path, InterventionOutcome)

    def write_intervention_outcomes(self, fill: str, outcomes: Iterable[InterventionOutcome]) -> None:
        store.write_jsonl(self.intervention_outcomes_path(fill), outcomes)

    def intervention_fills(self) -> list[str]:
        """The fills the manifest records a scored intervention set of, in the order they were made."""
        try:
            info = self.read_manifest().interventions
        except RunDirError:
            return []
        if info is None:
            return []
        return [s.fill for s in info.sets if self.intervention_metrics_path(s.fill).is_file()]

    def read_intervention_metrics(self, fill: str) -> MetricsReport:
        path = self.intervention_metrics_path(fill)
        if not path.exists():
            raise RunDirError(
                f"{self.path} has no intervention metrics for the fill {fill!r}; run `tag-bench intervene "
                f"{self.path} --fills {fill}`"
            )
        try:
            return store.read_model(path, MetricsReport)
        except ValueError as e:
            raise RunDirError(f"{e}; run `tag-bench intervene {self.path} --fills {fill}` again") from None

    def write_intervention_metrics(self, fill: str, report: MetricsReport) -> None:
        store.write_json(self.intervention_metrics_path(fill), report)

    # ----------------------------------------------------------------------------------- scores

    @contextmanager
    def references_writer(self, key: str | None = None) -> Iterator[store.AtomicLines]:
        """au_references.jsonl (current, or under ``references/<key>/``), written line by line (JSON lines
        already validated as records); it appears only when complete."""
        with store.AtomicLines(self.scores_file(self.AU_REFERENCES, key)) as out:
            yield out

    @contextmanager
    def scored_samples_writer(self, key: str | None = None) -> Iterator[store.AtomicLines]:
        """samples.jsonl (current, or under ``references/<key>/``), written line by line; it appears only
        when complete."""
        with store.AtomicLines(self.scores_file(self.SAMPLES, key)) as out:
            yield out

    def read_scored(self, key: str | None = None) -> list[ScoredSample]:
        """The scored samples (current, or under ``references/<key>/``)."""
        return list(self.iter_scored(key))

    def iter_scored(self, key: str | None = None) -> Iterator[ScoredSample]:
        """The scored samples one by one, as :meth:`read_scored` reads them (for readers that keep none)."""
        path = self.scores_file(self.SAMPLES, key)
        if not path.exists():
            raise RunDirError(f"{self.path} has no scored samples ({path.name}); {self.unscored_hint()}")
        try:
            yield from store.iter_records(path, ScoredSample)
        except ValueError as e:
            raise RunDirError(f"{e}; re-score the run: `tag-bench score {self.path}`") from None

    def write_metrics(self, report: MetricsReport, key: str | None = None) -> None:
        store.write_json(self.scores_file(self.METRICS, key), report)

    def read_metrics(self, key: str | None = None) -> MetricsReport:
        path = self.scores_file(self.METRICS, key)
        if not path.exists():
            raise RunDirError(
                f"{self.path} has not been scored yet (no {path.relative_to(self.path)}); {self.unscored_hint()}"
            )
        try:
            return store.read_model(path, MetricsReport)
        except ValueError as e:
            raise RunDirError(f"{e}; re-score the run: `tag-bench score {self.path}`") from None

    # ---------------------------------------------------------------------------- start, clear

    def clear(self) -> None:
        """Remove every file of a run (``--overwrite``); other files in the folder stay."""
        for name in (
            self.MANIFEST,
            self.GENERATIONS,
            self.SAMPLES,
            self.METRICS,
            self.INDEX,
            self.AU_REFERENCES,
        ):
            (self.path / name).unlink(missing_ok=True)
        self.remove_shards()
        shutil.rmtree(self.interventions_dir, ignore_errors=True)  # sets of the discarded run's answers

    def start(self, manifest: RunManifest, samples: list[Sample], *, overwrite: bool = False) -> RunManifest:
        """Write the manifest and index of a new run, or check that ``manifest`` may resume the one here.

        Raises RunConfigError listing what changed when the run here has another configuration, and
        NestedRunError when this folder lies inside another run directory or holds one.
        """
        self.check_placement()
        self.path.mkdir(parents=True, exist_ok=True)
        if overwrite:
            self.clear()
        if self.is_run():
            old = self.read_manifest()
            self.check_same_run(old, manifest)
            manifest.created = old.created
            manifest.resumed_at = [*old.resumed_at, utc_now()]
            manifest.au_reference_id, manifest.scoring = (
                old.au_reference_id,
                old.scoring,
            )  # the scores on disk
            manifest.generation = old.generation  # what earlier sessions generated, and how long it took
            manifest.interventions = old.interventions  # the intervene stage's sets stay
        self.write_manifest(manifest)
        self.write_index(samples)
        return manifest

    def check_same_run(self, old: RunManifest, new: RunManifest, *, shard: str | None = None) -> None:
        """Raise RunConfigError listing every identity field (:data:`IDENTITY_FIELDS`) where ``new``
        differs from the run here (``shard``: the joining shard, named in the message)."""
        a, b = manifest_identity(old), manifest_identity(new)
        changed = [k for k in IDENTITY_FIELDS if a[k] != b[k]]
        if changed:
            lines = "\n".join(f"  {k}: {a[k]!r} -> {b[k]!r}{_what_changed(k, old, new)}" for k in changed)
            who = f"shard {shard} has" if shard else "this run has"
            fix = (
                "Give this shard the run's configuration, or choose another --out (to start over, delete the "
                "folder before any shard starts)"
                if shard
                else "Start fresh with --overwrite, or choose another --out."
            )
            raise RunConfigError(
                f"{self.path} holds a run with a different configuration ({who} another):\n{lines}\n"
                f"Resuming would mix outputs. {fix}"
            )

    def join(self, manifest: RunManifest, samples: list[Sample], *, shard: str) -> RunManifest:
        """Start or join a sharded run: create the manifest and index exclusively, or check that
        ``manifest`` is the configuration of the run here. Returns the run's manifest (no lock taken,
        and the manifest of a run already here is not rewritten: its writer is whoever created it,
        and the shard that finishes the run).

        The index is written by the shard that created the manifest; a shard whose index has another
        length (another ``--limit``) is refused.
        """
        self.check_placement()
        self.path.mkdir(parents=True, exist_ok=True)
        if self.create_manifest(manifest):
            self.write_index(samples)
            return manifest
        for _ in range(50):  # the creator links the manifest before it writes the index
            if self.index_path.exists():
                break
            time.sleep(0.1)
        old = self.read_manifest()
        self.check_same_run(old, manifest, shard=shard)
        if not self.index_path.exists():  # its creator stopped before writing it
            self.write_index(samples)
            return old
        n_here = _count_lines(self.index_path)
        if n_here != len(samples):
            # a shard of another --limit would generate its part of another index: the shards' counts,
            # the run's status and its scores would disagree about which samples the run holds
            give = f"--limit {old.limit}" if old.limit is not None else "no --limit"
            raise RunConfigError(
                f"{self.path} is a run of {n_here:,} samples and shard {shard} indexes {len(samples):,} "
                f"(--limit {manifest.limit if manifest.limit is not None else 'none'}): every shard of a run "
                f"takes the run's --limit. Give this shard {give}, or choose another --out"
            )
        return old

    # ------------------------------------------------------------------------------------- lock

    def writer(self) -> str | None:
        """Who holds the run's writer lock (:meth:`lock`: a session without ``--shard`` generating or
        scoring here), or None when no process does."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return None
        path = self.path / self.LOCK
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(path)
        finally:
            os.close(fd)  # releases a lock taken here
        return None

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's writer lock; a second writer gets a RunLockedError naming the holder."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no advisory locks to take
            yield
            return
        self.path.mkdir(parents=True, exist_ok=True)
        path = self.path / self.LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunLockedError(
                    f"{self.path} is being written by another tag-bench process ({_holder(path)}); wait for it "
                    "to finish, or write to another --out"
                ) from None
            info = {"pid": os.getpid(), "host": socket.gethostname(), "since": utc_now(), "command": sys.argv}
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode())
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


JUDGE_KIND = "judge"


def is_judge_run(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a judge run directory (its manifest says ``"kind": "judge"``)."""
    manifest = Path(path) / RunDir.MANIFEST
    if not manifest.is_file():
        return False
    try:
        with open(manifest, encoding="utf-8") as f:
            head = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(head, dict) and head.get("kind") == JUDGE_KIND


class JudgeRunDir:
    """A judge run directory: a judge model's pairwise comparisons of the traces of several runs."""

    MANIFEST = RunDir.MANIFEST
    JUDGEMENTS = "judgements.jsonl"
    METRICS = RunDir.METRICS

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._run = RunDir(self.path)  # placement checks and the writer lock are a run directory's

    def __str__(self) -> str:
        return str(self.path)

    @property
    def manifest_path(self) -> Path:
        return self.path / self.MANIFEST

    @property
    def judgements_path(self) -> Path:
        return self.path / self.JUDGEMENTS

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    def is_run(self) -> bool:
        return is_judge_run(self.path)

    def check_placement(self) -> None:
        self._run.check_placement()

    def lock(self) -> Any:
        return self._run.lock()

    def read_manifest(self) -> JudgeManifest:
        if not self.manifest_path.is_file():
            raise RunDirError(f"{self.path} is not a judge run directory (no {self.MANIFEST})")
        if not self.is_run():
            raise RunDirError(
                f"{self.path} is a model run, not a judge run directory: give the folder `tag-bench judge --out` wrote"
            )
        try:
            return store.read_model(self.manifest_path, JudgeManifest)
        except ValueError as e:
            raise RunDirError(
                f"{e}; the judge run's manifest is damaged: start it again with --overwrite"
            ) from None

    def write_manifest(self, manifest: JudgeManifest) -> None:
        store.write_json(self.manifest_path, manifest)

    def read_judgements(self) -> list[Judgement]:
        """Every judgement record in file order (a later record of the same comparison and order wins
        where the reader keys them)."""
        if not self.judgements_path.exists():
            return []
        try:
            return store.read_records(self.judgements_path, Judgement)
        except ValueError as e:
            raise RunDirError(f"{e}; the judgements of {self.path} are damaged") from None

    def append_judgements(self, records: Iterable[Judgement]) -> None:
        store.append_jsonl(self.judgements_path, records, sync=False)

    def repair_judgements(self) -> None:
        store.repair_jsonl_tail(self.judgements_path)

    def sync(self) -> None:
        store.fsync_path(self.judgements_path)

    def write_metrics(self, report: JudgeReport) -> None:
        store.write_json(self.metrics_path, report)

    def read_metrics(self) -> JudgeReport:
        if not self.metrics_path.exists():
            raise RunDirError(
                f"{self.path} has no {self.METRICS} yet: run the `tag-bench judge` command that made it again"
            )
        try:
            return store.read_model(self.metrics_path, JudgeReport)
        except ValueError as e:
            raise RunDirError(f"{e}; run the `tag-bench judge` command that made it again") from None

    def clear(self) -> None:
        for name in (self.MANIFEST, self.JUDGEMENTS, self.METRICS):
            (self.path / name).unlink(missing_ok=True)


def rerun_command(
    command: list[str] | None, run_path: str | os.PathLike[str] | None = None, cwd: str | None = None
) -> str:
    """The command line a run was made with, as a user would type it again (``tag-bench ...`` for the
    command-line tool however it was started), from any directory: after a ``cd`` to ``cwd``, the
    folder it ran in (the manifest's ``cwd``), so its relative paths (data root, model, default results
    folder) mean what they meant. With ``run_path``, its ``--out`` (``--out-dir``) names that folder
    (its parent) by its absolute path, which still holds after the run folder was moved."""
    import shlex

    if not command:
        return "(not recorded in the manifest)"
    if run_path is not None:
        where = Path(run_path).absolute()
        command = _with_option(_with_option(command, "--out", str(where)), "--out-dir", str(where.parent))
    if Path(command[0]).name == "tag-bench" or Path(command[0]).parts[-2:] == ("tag_bench", "__main__.py"):
        command = ["tag-bench", *command[1:]]
    cd = f"cd {shlex.quote(cwd)} && " if cwd else ""
    return "`" + cd + shlex.join(command) + "`"


def without_option(command: list[str] | None, option: str) -> list[str] | None:
    """``command`` without ``option`` and its value (``--opt V`` or ``--opt=V``)."""
    if not command:
        return command
    out: list[str] = []
    skip = False
    for a in command:
        if skip:
            skip = False
        elif a == option:
            skip = True
        elif not a.startswith(option + "="):
            out.append(a)
    return out


def _with_option(command: list[str], option: str, value: str) -> list[str]:
    """``command`` with the value of ``option`` (``--opt V`` or ``--opt=V``) replaced, where it is given."""
    out = list(command)
    for k, a in enumerate(out):
        if a == option and k + 1 < len(out):
            out[k + 1] = value
        elif a.startswith(option + "="):
            out[k] = f"{option}={value}"
    return out


def _count_index(pattern: re.Pattern[str], path: Path) -> tuple[int, int]:
    m = pattern.fullmatch(path.name)
    assert m is not None  # the callers matched it
    return int(m.group(2)), int(m.group(1))


def _count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    cmd = " ".join(str(c) for c in info.get("command", []))
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('since', '?')}: {cmd}"
