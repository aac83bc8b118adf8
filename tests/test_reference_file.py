"""AU references read from a JSONL file record by record: the same scores as references held in memory,
never more than a block of them at a time, the run's copy of the file unchanged."""

from __future__ import annotations

import json
import random

import pytest

from tag_bench.au import reference_file
from tag_bench.au.reference_file import ReferenceFile, ReferenceView
from tag_bench.au.sources import JsonlSource
from tag_bench.rundir import RunDir
from tag_bench.schema import (
    CANONICAL_EMOTIONS,
    AUReference,
    AUState,
    Generation,
    ModelInfo,
    RunManifest,
    Sample,
    TaskInfo,
)
from tag_bench.scoring import run as scoring_run
from tag_bench.scoring.aggregate import metrics_from_arrays
from tag_bench.scoring.run import ReferenceSet, load_saved_references, score_arrays, score_run
from tag_bench.testing.corpus import mixed_corpus

CLASSES = list(CANONICAL_EMOTIONS)


@pytest.fixture(autouse=True, params=["one process", "checked in workers"])
def checked(request, monkeypatch):
    """Every test runs with the file checked in this process, and in forked workers by byte ranges
    (as files from 64 MB are): the same index, and the same first problem at the same line."""
    if request.param == "checked in workers":
        monkeypatch.setattr(reference_file, "PARALLEL_BYTES", 0)
    return request.param


def _run(n: int, seed: int = 3):
    """Samples, generations and distinct references (with landmarks) of ``n`` mixed-format responses;
    every 13th sample has no reference, every 11th reference found no face."""
    rng = random.Random(seed)
    samples, gens, refs = [], {}, []
    for i, r in enumerate(mixed_corpus(n, seed=seed)):
        sid = f"s{i:04d}"
        samples.append(Sample(id=sid, dataset="x", split="t", image="/dev/null", native_label=0,
                              label=r.label if r.label in CLASSES and rng.random() < 0.5 else rng.choice(CLASSES)))  # fmt: skip
        gens[sid] = Generation(sample_id=sid, text=r.text, frame=r.frame, image_size=r.image_size,
                               input_size=r.input_size, finish_reason=r.finish_reason)  # fmt: skip
        if i % 13 == 5:
            continue
        w, h = r.image_size
        x, y = rng.uniform(0, 0.5 * w), rng.uniform(0, 0.5 * h)
        refs.append(AUReference(
            reference_id="syn@1", detector="syn", version="1", status="ok" if i % 11 else "no_face",
            threshold=0.5, sample_id=sid, landmarks=[(rng.uniform(0, w), rng.uniform(0, h)) for _ in range(68)],
            aus={au: AUState(score=rng.random(), box=[x, y, x + 0.3 * w, y + 0.3 * h])
                 for au in ("AU1", "AU4", "AU6", "AU12", "AU25")},
        ))  # fmt: skip
    rng.shuffle(refs)  # a file in another order than the run's samples
    return samples, gens, refs


def _write(path, refs, extra: str = "") -> None:
    path.write_text("".join(r.model_dump_json() + "\n" for r in refs) + extra, encoding="utf-8")


def test_records_read_on_demand_equal_the_file(tmp_path):
    _, _, refs = _run(60)
    path = tmp_path / "refs.jsonl"
    _write(path, refs)
    f = ReferenceFile(path)
    assert list(f) == [r.sample_id for r in refs] and len(f) == len(refs)
    assert f.reference_ids == {"syn@1"}
    picked = [refs[k].sample_id for k in (40, 3, 4, 5, 17)]  # out of order, some next to each other
    got = f.get_many([*picked, "not-there"])
    assert list(got) == sorted(picked, key=[r.sample_id for r in refs].index)
    assert all(got[s] == next(r for r in refs if r.sample_id == s) for s in picked)
    assert f[refs[0].sample_id] == refs[0] and "not-there" not in f
    assert list(f.lines()) == path.read_text().splitlines()


def test_a_file_replaced_under_its_name_is_still_read_as_opened(tmp_path):
    _, _, refs = _run(20)
    path = tmp_path / "refs.jsonl"
    _write(path, refs)
    f = ReferenceFile(path)
    tmp = tmp_path / "new.jsonl"
    _write(tmp, [r.model_copy(update={"status": "error"}) for r in refs[::-1]])
    tmp.replace(path)  # what re-scoring a run directory in place does to its au_references.jsonl
    assert f.get_many([r.sample_id for r in refs]) == {r.sample_id: r for r in refs}


def test_a_users_file_is_checked_whole_when_opened(tmp_path):
    _, _, refs = _run(10)
    n = len(refs) + 1  # the line of the bad record
    path = tmp_path / "refs.jsonl"
    _write(path, refs, '{"reference_id": "syn@1"}\n')
    with pytest.raises(ValueError, match=rf"refs.jsonl:{n}: not an AUReference record"):
        JsonlSource(path)
    _write(path, [*refs, refs[2]])
    with pytest.raises(ValueError, match=rf"refs.jsonl:{n}: second record for sample '{refs[2].sample_id}'"):
        JsonlSource(path)
    _write(path, [*refs, refs[0].model_copy(update={"sample_id": None})])
    with pytest.raises(ValueError, match=rf"refs.jsonl:{n}: record has no sample_id"):
        JsonlSource(path)
    _write(path, [*refs, refs[0].model_copy(update={"sample_id": "z", "reference_id": "other@2"})])
    with pytest.raises(ValueError, match=r"mixes AU references \['other@2', 'syn@1'\]"):
        JsonlSource(path)


def test_a_run_file_skips_a_torn_last_line_and_keeps_the_last_record_of_a_sample(tmp_path):
    _, _, refs = _run(10)
    path = tmp_path / "au_references.jsonl"
    again = refs[4].model_copy(update={"status": "no_face"})
    _write(path, [*refs, again], refs[0].model_dump_json()[:50])  # a crash mid-write
    f = ReferenceFile(path, strict=False)
    assert len(f) == len(refs) and f[refs[4].sample_id] == again


def test_scores_from_a_file_equal_scores_from_memory_a_block_at_a_time(tmp_path, monkeypatch):
    samples, gens, refs = _run(240)
    path = tmp_path / "refs.jsonl"
    _write(path, refs)
    source = JsonlSource(path)
    in_memory = ReferenceSet("syn@1", {s.id: source.get(s) for s in samples})
    from_file = ReferenceSet("syn@1", source.get_many(samples))
    view = from_file.by_sample
    assert isinstance(view, ReferenceView) and list(view) == [s.id for s in samples]
    other = next(r.sample_id for r in refs)  # a record of the file for a sample of the run...
    assert other in view and ReferenceView(source.by_sample, ["x", "y"], None).get_many([other, "x"]) == {}
    assert view["s0005"].status == "error" and "s0005" not in source.by_sample  # ...and one it lacks
    with pytest.raises(KeyError):
        ReferenceView(source.by_sample, [], source._missing)[other]  # not a sample of this view

    asked: list[int] = []
    get_many = ReferenceFile.get_many

    def spy(self, ids):
        ids = list(ids)
        asked.append(len(ids))
        return get_many(self, ids)

    monkeypatch.setattr(ReferenceFile, "get_many", spy)
    monkeypatch.setattr(scoring_run, "REFERENCE_BLOCK", 16)
    want: list[str] = []
    a = score_arrays(samples, gens, CLASSES, in_memory, sink=want.append, workers=1)
    assert not asked
    for workers in (1, 2):
        got: list[str] = []
        b = score_arrays(samples, gens, CLASSES, from_file, sink=got.append, workers=workers)
        assert got == want
        ma, mb = (metrics_from_arrays(x, n_resamples=200, seed=0) for x in (a, b))
        assert ma.metrics == mb.metrics and ma.reference_status_counts == mb.reference_status_counts
    assert asked and max(asked) <= 16  # never more than a block of references at once (workers included)
    statuses = {json.loads(x)["reference_status"] for x in want}
    assert {"ok", "no_face", "error"} <= statuses  # a sample without a record is scored as an error one
    # without a sink (the in-process path) too
    c = score_arrays(samples, gens, CLASSES, from_file, workers=1)
    assert metrics_from_arrays(c, n_resamples=200, seed=0).metrics == ma.metrics


def test_a_run_keeps_the_files_own_lines_and_rescores_identically(tmp_path):
    samples, gens, refs = _run(80)
    path = tmp_path / "refs.jsonl"
    _write(path, refs)
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_manifest(RunManifest(
        run_id="t__m", created="2026-01-01T00:00:00+00:00",
        task=TaskInfo(name="t", version=1, dataset="x", split="t", protocol="p", classes=CLASSES, prompt="tag"),
        model=ModelInfo(adapter="m", fingerprint="f"), prompt_id="tag", prompt_hash="h",
    ))  # fmt: skip
    run.write_index(samples)
    run.write_generations(list(gens.values()))
    score_run(run, au_reference=str(path), n_resamples=200, progress=False)
    lines = run.references_path.read_text().splitlines()
    by_id = {r.sample_id: line for r, line in zip(refs, path.read_text().splitlines(), strict=True)}
    assert len(lines) == len(samples)
    for s, line in zip(samples, lines, strict=True):
        if s.id in by_id:
            assert line == by_id[s.id]  # copied, not re-encoded
        else:
            rec = json.loads(line)
            assert (rec["sample_id"], rec["status"], rec["message"]) == (
                s.id,
                "error",
                "no reference for sample",
            )
    first_samples, first_metrics = run.samples_path.read_bytes(), json.loads(run.metrics_path.read_text())
    saved = load_saved_references(run)
    assert saved is not None and isinstance(saved.by_sample, ReferenceFile)
    score_run(run, n_resamples=200, progress=False)  # against the saved copy, replaced in place
    assert run.samples_path.read_bytes() == first_samples
    assert json.loads(run.metrics_path.read_text())["metrics"] == first_metrics["metrics"]
    assert run.references_path.read_text().splitlines() == lines


def test_a_file_checked_by_ranges_is_cut_between_lines(tmp_path, monkeypatch):
    _, _, refs = _run(40)
    path = tmp_path / "refs.jsonl"
    _write(path, refs[:20], "\n")  # a blank line counts for the line numbers
    with open(path, "a") as f:
        f.write("".join(r.model_dump_json() + "\n" for r in refs[20:]))
    monkeypatch.setattr(reference_file, "PARALLEL_BYTES", 0)
    parts: list[int] = []
    in_workers = ReferenceFile._check_in_workers

    def spy(self, size, workers):
        found = in_workers(self, size, workers)
        parts.append(len(found))
        return found

    monkeypatch.setattr(ReferenceFile, "_check_in_workers", spy)
    f = ReferenceFile(path)
    assert parts and parts[0] > 1  # checked in several ranges
    assert list(f) == [r.sample_id for r in refs] and list(f.lines()) == [
        x for x in path.read_text().splitlines() if x
    ]
    _write(path, [*refs[:30], refs[0].model_copy(update={"sample_id": None}), *refs[30:]])
    with pytest.raises(ValueError, match=r"refs.jsonl:31: record has no sample_id"):
        ReferenceFile(path)
