"""Reference sources for the scorer: detectors through the cache, JSONL, OpenFace / py-feat CSVs,
dataset annotations."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest

pytest.importorskip("mediapipe")

from tag_bench.au.geometric import MediaPipeGeometricDetector
from tag_bench.au.regions import au_regions, merged
from tag_bench.au.sources import ReferenceSource, resolve_reference_source
from tag_bench.geometry import iou
from tag_bench.schema import Sample
from tag_bench.testing.sample_faces import face_path, load_face, pyfeat_test_data

DATA = pyfeat_test_data()


def _sample(sid: str, path, **kw) -> Sample:
    return Sample(id=sid, dataset="t", split="test", image=str(path), label="neutral", native_label="n", **kw)


@pytest.fixture(scope="module")
def astronaut_ref():
    return MediaPipeGeometricDetector().detect(load_face("astronaut"))


def test_detector_spec_runs_through_the_cache(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_text("nope")
    samples = [
        _sample("a", face_path("astronaut", tmp_path)),
        _sample("g", face_path("grace_hopper", tmp_path)),
        _sample("b", broken),
    ]
    src = resolve_reference_source("mediapipe-geometric", cache_path=tmp_path / "c.sqlite")
    assert isinstance(src, ReferenceSource)
    assert src.reference_id == "mediapipe-geometric-tight@2"
    refs = src.get_many(samples, progress=False)
    assert [refs[k].status for k in "agb"] == ["ok", "ok", "error"]
    assert all(r.sample_id == k for k, r in refs.items())
    assert src.cache.misses == 3  # the broken file is looked up by its bytes, then fails to decode
    again = resolve_reference_source("mediapipe-geometric", cache_path=tmp_path / "c.sqlite")
    refs2 = again.get_many(samples, progress=True)
    assert again.cache.hits == 2 and again.cache.misses == 1  # errors are never cached
    assert {k: r.model_dump() for k, r in refs2.items()} == {k: r.model_dump() for k, r in refs.items()}
    loose = resolve_reference_source("mediapipe-geometric-loose", cache_path=tmp_path / "c.sqlite")
    assert loose.reference_id == "mediapipe-geometric-loose@2"


def test_jsonl_round_trip(tmp_path):
    samples = [
        _sample("a", face_path("astronaut", tmp_path)),
        _sample("g", face_path("grace_hopper", tmp_path)),
    ]
    src = resolve_reference_source("mediapipe-geometric", cache_path=tmp_path / "c.sqlite")
    refs = src.get_many(samples)
    path = tmp_path / "refs.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in refs.values()))
    loaded = resolve_reference_source(str(path))
    assert loaded.reference_id == src.reference_id
    for s in samples:
        assert loaded.get(s).model_dump() == refs[s.id].model_dump()
    missing = loaded.get(_sample("zzz", "whatever.png"))
    assert missing.status == "error" and missing.message == "no reference for sample"
    assert missing.reference_id == src.reference_id and missing.sample_id == "zzz"
    assert set(loaded.get_many([*samples, _sample("zzz", "x.png")])) == {"a", "g", "zzz"}


def test_bad_jsonl_files(tmp_path, astronaut_ref):
    mixed = tmp_path / "mixed.jsonl"
    other = astronaut_ref.model_copy(update={"reference_id": "other-tight@1", "sample_id": "b"})
    mixed.write_text(
        astronaut_ref.model_copy(update={"sample_id": "a"}).model_dump_json()
        + "\n"
        + other.model_dump_json()
        + "\n"
    )
    with pytest.raises(ValueError, match="mixes"):
        resolve_reference_source(str(mixed))
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text('{"not": "a reference"}\n')
    with pytest.raises(ValueError, match=r"garbage\.jsonl:1"):
        resolve_reference_source(str(garbage))
    with pytest.raises(FileNotFoundError):
        resolve_reference_source(str(tmp_path / "absent.jsonl"))


OPENFACE_AUS_R = [1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45]
OPENFACE_AUS_C = [*OPENFACE_AUS_R[:16], 28, 45]


def _write_openface_csv(path, landmarks: np.ndarray, au12_r: float) -> None:
    """An OpenFace 2.x FaceLandmarkImg CSV (leading spaces in the header, as OpenFace writes it)."""
    cols = ["face", "confidence"]
    cols += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    cols += [f"AU{a:02d}_r" for a in OPENFACE_AUS_R] + [f"AU{a:02d}_c" for a in OPENFACE_AUS_C]
    values = [0, 0.98, *landmarks[:, 0], *landmarks[:, 1]]
    values += [au12_r if a == 12 else 0.3 for a in OPENFACE_AUS_R]
    values += [1 if a in (12, 28) else 0 for a in OPENFACE_AUS_C]
    with open(path, "w", newline="") as f:
        f.write(", ".join(cols) + "\n")
        f.write(", ".join(f"{v:g}" for v in values) + "\n")


def test_openface_csv_import(tmp_path, astronaut_ref):
    lm = np.array(astronaut_ref.landmarks)
    folder = tmp_path / "openface"
    folder.mkdir()
    _write_openface_csv(folder / "astronaut.csv", lm, au12_r=3.5)
    img = face_path("astronaut", tmp_path)
    src = resolve_reference_source(f"openface:{folder}")
    assert src.reference_id.startswith("openface-tight@")
    ref = src.get(_sample("s1", img))
    assert ref.status == "ok", ref.message
    assert np.allclose(np.array(ref.landmarks), lm, atol=1e-3)
    assert ref.aus["AU12"].score == pytest.approx(0.7) and ref.aus["AU12"].active
    assert ref.aus["AU1"].score == pytest.approx(0.06) and not ref.aus["AU1"].active
    assert ref.aus["AU28"].score == 1.0 and ref.aus["AU28"].active  # presence-only AU
    assert ref.aus["AU45"].score == pytest.approx(0.06)
    expected = au_regions(np.array(ref.landmarks), "tight", image_size=(512, 512))
    assert np.allclose(ref.aus["AU12"].boxes, expected["AU12"], atol=0.01)
    # the CSV's regions sit where the detector's regions are (same landmarks, same rule)
    assert iou(ref.aus["AU12"].box, astronaut_ref.aus["AU12"].box) > 0.95
    assert src.get(_sample("s2", tmp_path / "unknown.png")).status == "error"
    loose = resolve_reference_source(f"openface-loose:{folder / 'astronaut.csv'}")
    assert loose.reference_id.startswith("openface-loose@")
    expected_loose = merged(au_regions(lm, "loose", image_size=(512, 512))["AU12"])
    assert loose.get(_sample("s1", img)).aus["AU12"].box == pytest.approx(expected_loose, abs=0.01)  # CSV %g


def test_openface_crop_shifts_landmarks(tmp_path, astronaut_ref):
    lm = np.array(astronaut_ref.landmarks)
    _write_openface_csv(tmp_path / "astronaut.csv", lm, au12_r=1.0)
    src = resolve_reference_source(f"openface:{tmp_path / 'astronaut.csv'}")
    crop = [100.0, 20.0, 400.0, 320.0]
    ref = src.get(_sample("c", face_path("astronaut", tmp_path), crop=crop))
    assert ref.image_size == (300, 300)
    assert np.allclose(np.array(ref.landmarks), lm - np.array([100.0, 20.0]), atol=1e-3)


@pytest.mark.skipif(DATA is None, reason="py-feat's CSV fixtures come with py-feat")
def test_openface_real_output_file():
    src = resolve_reference_source(f"openface:{DATA / 'OpenFace_Test.csv'}")
    ref = src.get(_sample("v", DATA / "OpenFace_Test.mp4"))  # matched by stem
    assert ref.status == "ok"
    scored = {au for au, s in ref.aus.items() if s.score is not None}
    assert {"AU1", "AU12", "AU45", "AU28"} <= scored
    assert all(s.box is not None for s in ref.aus.values() if s.score is not None)


@pytest.mark.skipif(DATA is None, reason="py-feat's CSV fixtures come with py-feat")
def test_pyfeat_fex_csv_import():
    src = resolve_reference_source(f"pyfeat-csv:{DATA / 'Feat_Test.csv'}")
    assert src.reference_id.startswith("pyfeat-csv-tight@")
    sample = _sample("sf", DATA / "single_face.jpg")  # matched through the 'input' column's file name
    ref = src.get(sample)
    assert ref.status == "ok" and ref.threshold == 0.5
    assert len([a for a, s in ref.aus.items() if s.score is not None]) == 20
    assert ref.aus["AU12"].score == pytest.approx(0.9643792749395256, abs=1e-4)  # records keep 4 decimals
    assert ref.face_box == pytest.approx(
        [196.97684, 140.99774, 196.97684 + 173.81049, 140.99774 + 257.63934], abs=0.01
    )
    # py-feat's landmarks and MediaPipe's put AU12 on the same mouth corners
    mp = MediaPipeGeometricDetector().detect(load_face("single_face"))
    for a, b in zip(ref.aus["AU12"].boxes, mp.aus["AU12"].boxes, strict=True):
        assert iou(a, b) > 0.4


def test_annotations_source(tmp_path, astronaut_ref):
    img = face_path("astronaut", tmp_path)
    lm = [list(p) for p in astronaut_ref.landmarks]
    src = resolve_reference_source("annotations")
    assert src.reference_id == "annotations-tight@1"
    ref = src.get(_sample("a", img, meta={"landmarks68": lm}))
    assert ref.status == "ok"
    assert all(s.score is None and s.active is None for s in ref.aus.values())
    assert ref.active_aus() == set()
    assert np.allclose(ref.aus["AU12"].boxes, astronaut_ref.aus["AU12"].boxes, atol=0.05)
    assert src.get(_sample("b", img)).status == "error"
    bad = src.get(_sample("c", img, meta={"landmarks68": [[1, 2]] * 5}))
    assert bad.status == "error" and "68" in bad.message
    loose = resolve_reference_source("annotations-loose")
    assert loose.get(_sample("a", img, meta={"landmarks68": lm})).reference_id == "annotations-loose@1"


def test_unknown_spec_lists_the_valid_forms():
    with pytest.raises(ValueError) as e:
        resolve_reference_source("no-such-thing")
    msg = str(e.value)
    for form in ("mediapipe-geometric", "openface", "pyfeat-csv", "annotations", ".jsonl"):
        assert form in msg


def test_reference_json_is_serialisable(tmp_path):
    src = resolve_reference_source("mediapipe-geometric", cache_path=tmp_path / "c.sqlite")
    ref = src.get(_sample("a", face_path("astronaut", tmp_path)))
    assert json.loads(ref.model_dump_json())["aus"]["AU12"]["active"] is True
    with open(tmp_path / "x.csv", "w", newline="") as f:
        csv.writer(f).writerow(["a", "b"])
    with pytest.raises(ValueError, match="landmark"):
        resolve_reference_source(f"openface:{tmp_path / 'x.csv'}")


def test_references_through_the_cache_are_read_a_block_at_a_time(tmp_path, monkeypatch):
    """With the AU cache, a run's references stay in it and are read when scored: the same records and
    scores as references held in memory, never more than a block at once."""
    from tag_bench import _forkmap
    from tag_bench.au import cache as cache_module
    from tag_bench.au.cache import AUCache, CachedReferences, detect_cached_many
    from tag_bench.schema import CANONICAL_EMOTIONS, Generation
    from tag_bench.scoring import run as scoring_run
    from tag_bench.scoring.aggregate import metrics_from_arrays
    from tag_bench.scoring.run import ReferenceSet, score_arrays
    from tag_bench.testing.corpus import mixed_corpus

    broken = tmp_path / "broken.png"
    broken.write_text("nope")
    faces = [face_path("astronaut", tmp_path), face_path("grace_hopper", tmp_path), broken]
    samples = [_sample(f"s{i}", faces[i % 3] if i % 5 else faces[0]) for i in range(12)]  # repeated pixels
    gens = {s.id: Generation(sample_id=s.id, text=r.text, frame=r.frame, image_size=r.image_size,
                             input_size=r.input_size, finish_reason=r.finish_reason)
            for s, r in zip(samples, mixed_corpus(12, seed=4), strict=True)}  # fmt: skip
    src = resolve_reference_source("mediapipe-geometric", cache_path=tmp_path / "c.sqlite")
    lazy = src.get_many(samples)
    assert isinstance(lazy, CachedReferences) and list(lazy) == [s.id for s in samples]
    held = detect_cached_many(src.detector, samples, AUCache(tmp_path / "c.sqlite"))
    lines = [held[s.id].model_dump_json() for s in samples]
    assert list(lazy.records()) == lines
    if sys.platform.startswith("linux"):  # a large run's lines are made in forked processes: the same
        monkeypatch.setattr(cache_module, "ENCODE_IN_WORKERS_FROM", 1)
        monkeypatch.setattr(_forkmap, "fork_workers", lambda: 2)
        monkeypatch.setattr(_forkmap, "MAX_CHUNK", 5)
        assert list(lazy.records()) == lines
        monkeypatch.undo()
    assert lazy.get_many(["s5", "s0"]).keys() == {"s0", "s5"} and lazy["s5"].sample_id == "s5"

    asked: list[int] = []
    get_many = CachedReferences.get_many
    monkeypatch.setattr(CachedReferences, "get_many", lambda self, ids: asked.append(len(ids := list(ids))) or get_many(self, ids))  # fmt: skip
    monkeypatch.setattr(scoring_run, "REFERENCE_BLOCK", 4)
    classes = list(CANONICAL_EMOTIONS)
    want: list[str] = []
    got: list[str] = []
    a = score_arrays(
        samples, gens, classes, ReferenceSet(src.reference_id, held), sink=want.append, workers=1
    )
    b = score_arrays(samples, gens, classes, ReferenceSet(src.reference_id, lazy), sink=got.append, workers=1)
    assert got == want and asked and max(asked) <= 4
    assert metrics_from_arrays(a, n_resamples=200).metrics == metrics_from_arrays(b, n_resamples=200).metrics
    forked: list[str] = []  # workers read the cache in their own connection
    score_arrays(samples, gens, classes, ReferenceSet(src.reference_id, lazy), sink=forked.append, workers=2)
    assert forked == want
    for workers in (1, 2):  # the run's copy, written from the records scoring reads: as records() writes it
        copied: list[str] = []
        score_arrays(samples, gens, classes, ReferenceSet(src.reference_id, lazy), sink=[].append,
                     reference_sink=copied.append, workers=workers)  # fmt: skip
        assert copied == lines

    AUCache(tmp_path / "c.sqlite")._conn().execute("DELETE FROM au_refs_compact_v1")
    with pytest.raises(RuntimeError, match="lost the reference of sample 's0'"):
        lazy.get_many(["s0"])


@pytest.mark.parametrize("workers", ["1", "2 forked", "2 spawned"])
def test_the_runs_copy_of_cached_references_is_written_from_the_records_scoring_reads(
    tmp_path, monkeypatch, workers
):
    """With the AU cache, scoring writes ``au_references.jsonl`` from the records it reads (each read
    from the cache once): the same lines, in the same order, as the copy made apart, unreadable images
    included."""
    from tag_bench.au.cache import AUCache, cached_references
    from tag_bench.images import image_sha256
    from tag_bench.schema import CANONICAL_EMOTIONS, AUReference, AUState, Generation
    from tag_bench.scoring import run as scoring_run
    from tag_bench.scoring.run import ReferenceSet, score_arrays
    from tag_bench.testing.corpus import mixed_corpus

    src = resolve_reference_source("mediapipe-geometric", cache_path=tmp_path / "c.sqlite")
    cache = AUCache(tmp_path / "c.sqlite")
    samples, gens = [], {}
    for i, r in enumerate(mixed_corpus(60, seed=2)):
        image = tmp_path / f"img{i}.bin"
        image.write_bytes(b"x" * i)  # distinct files; no detection is needed: the cache has them all
        samples.append(_sample(f"s{i:02d}", image if i % 9 else tmp_path / "missing.png"))
        gens[samples[-1].id] = Generation(sample_id=samples[-1].id, text=r.text, frame=r.frame,
                                          image_size=r.image_size, input_size=r.input_size)  # fmt: skip
        if i % 9:
            cache.put(image_sha256(samples[-1]), src.detector, AUReference(
                reference_id=src.reference_id, detector=src.detector.name, version=src.detector.version,
                status="ok", threshold=0.5, aus={"AU12": AUState(score=i / 60, box=[i, 2, i + 30, 40])}))  # fmt: skip
    lazy = cached_references(src.detector, samples, cache)
    references = ReferenceSet(src.reference_id, lazy)
    assert references.streams_lines and not ReferenceSet("x@1", {}).streams_lines
    apart = list(lazy.records())
    assert len(apart) == len(samples) and '"status":"error"' in apart[0]  # the unreadable image's record
    monkeypatch.setattr(scoring_run, "REFERENCE_BLOCK", 7)
    monkeypatch.setattr(scoring_run, "LINES_CHUNK", 11)
    if workers == "2 spawned":  # as on macOS and Windows: the parent reads each chunk's references
        monkeypatch.setattr(scoring_run.sys, "platform", "darwin")
    classes = list(CANONICAL_EMOTIONS)
    want: list[str] = []
    score_arrays(samples, gens, classes, references, sink=want.append, workers=1)
    got: list[str] = []
    lines: list[str] = []
    score_arrays(samples, gens, classes, references, sink=got.append, reference_sink=lines.append,
                 workers=int(workers[0]))  # fmt: skip
    assert got == want and lines == apart
    with pytest.raises(ValueError, match="lines follow the samples"):
        score_arrays(samples, gens, classes, ReferenceSet("x@1", {}), sink=got.append, reference_sink=print)
