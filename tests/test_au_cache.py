"""The SQLite AU cache: served hits, identical records, several writer processes, error handling."""

from __future__ import annotations

import marshal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("mediapipe")

from tag_bench.au.cache import AUCache, CachedDetector, default_cache_path, detect_cached
from tag_bench.au.geometric import MediaPipeGeometricDetector
from tag_bench.schema import AUReference, Sample
from tag_bench.testing.sample_faces import face_path, load_face


class CountingDetector:
    """The real detector, counting how often it actually runs."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0
        self.name, self.version = inner.name, inner.version
        self.region_rule, self.threshold = inner.region_rule, inner.threshold

    @property
    def reference_id(self) -> str:
        return self.inner.reference_id

    @property
    def params(self):
        return self.inner.params

    def detect(self, image, *, image_sha256=None, sample_id=None):
        self.calls += 1
        return self.inner.detect(image, image_sha256=image_sha256, sample_id=sample_id)


def _sample(sid: str, path: Path | str) -> Sample:
    return Sample(id=sid, dataset="t", split="test", image=str(path), label="neutral", native_label="neutral")


@pytest.fixture(scope="module")
def detector() -> MediaPipeGeometricDetector:
    return MediaPipeGeometricDetector()


@pytest.fixture
def samples(tmp_path) -> list[Sample]:
    grey = tmp_path / "grey.png"
    load_face("astronaut").convert("L").point(lambda _: 128).save(grey)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    return [
        _sample("astro", face_path("astronaut", tmp_path)),
        _sample("grace", face_path("grace_hopper", tmp_path)),
        _sample("astro-again", face_path("astronaut", tmp_path)),  # same pixels, another sample id
        _sample("grey", grey),
        _sample("broken", broken),
        _sample("missing", tmp_path / "nope.png"),
    ]


def test_second_pass_is_served_from_the_cache(detector, samples, tmp_path):
    counting = CountingDetector(detector)
    cache = AUCache(tmp_path / "c.sqlite")
    first = {s.id: detect_cached(counting, s, cache) for s in samples}
    # one call per distinct readable image: astronaut (shared), grace, grey; none for unreadable files
    assert counting.calls == 3
    assert [first[k].status for k in ("astro", "grace", "grey", "broken", "missing")] == [
        "ok",
        "ok",
        "no_face",
        "error",
        "error",
    ]
    assert "unreadable image" in first["broken"].message and "not found" in first["missing"].message
    second = {s.id: detect_cached(counting, s, AUCache(tmp_path / "c.sqlite")) for s in samples}
    assert counting.calls == 3
    for sid in first:
        assert second[sid].model_dump() == first[sid].model_dump(), sid
    assert first["astro-again"].sample_id == "astro-again"
    assert first["astro-again"].aus == first["astro"].aus
    assert len(AUCache(tmp_path / "c.sqlite")) == 3  # astronaut, grace, grey (no_face); no errors


def test_what_is_cached(detector, samples, tmp_path):
    cache = AUCache(tmp_path / "c.sqlite")
    for s in samples:
        detect_cached(detector, s, cache)
    with sqlite3.connect(cache.path) as c:
        rows = [r[0] for r in c.execute("SELECT record FROM au_refs_compact_v1")]
    assert sorted(marshal.loads(r)[0] for r in rows) == ["no_face", "ok", "ok"]
    # a compact row holds only the per-image part: no reference id, parameters or detector name
    assert all(detector.reference_id.encode() not in r and b"face_policy" not in r for r in rows)


def test_cached_records_are_valid_and_equal_to_fresh_ones(detector, tmp_path):
    """Hits are rebuilt without validation: they must be exactly what validation would give."""
    img = load_face("astronaut")
    fresh = detector.detect(img, image_sha256="abc", sample_id="s1")
    cache = AUCache(tmp_path / "c.sqlite")
    cache.put("abc", detector, fresh)
    hit = cache.get("abc", detector, "s1")
    assert hit.model_dump() == fresh.model_dump()
    assert AUReference.model_validate_json(hit.model_dump_json()) == fresh
    assert cache.get_many(["abc"], detector)["abc"].model_dump() == {**fresh.model_dump(), "sample_id": None}


def test_rows_of_the_old_full_record_table_are_ignored(detector, tmp_path):
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as c:
        c.execute(
            "CREATE TABLE au_refs (image_sha256 TEXT, reference_id TEXT, version TEXT, params_hash TEXT, "
            "record TEXT, created REAL)"
        )
        c.execute("INSERT INTO au_refs VALUES ('abc', ?, ?, 'x', '{}', 0)", (detector.reference_id, "1"))
    cache = AUCache(path)
    assert cache.get("abc", detector) is None and len(cache) == 0


def test_an_undecodable_row_is_a_miss(detector, tmp_path):
    img = load_face("grace_hopper")
    cache = AUCache(tmp_path / "c.sqlite")
    cache.put("abc", detector, detector.detect(img))
    with sqlite3.connect(cache.path) as c:
        c.execute("UPDATE au_refs_compact_v1 SET record = ?", (b"\x00garbage",))
    assert cache.get("abc", detector) is None and cache.misses == 1
    assert cache.get_many(["abc"], detector) == {}


def test_parameters_are_part_of_the_key(detector, tmp_path):
    cache = AUCache(tmp_path / "c.sqlite")
    img = load_face("astronaut")
    tight = CachedDetector(detector, cache)
    loose = CachedDetector(MediaPipeGeometricDetector(regions="loose"), cache)
    centre = CachedDetector(MediaPipeGeometricDetector(face_policy="center"), cache)
    a, b, c = tight.detect(img), loose.detect(img), centre.detect(img)
    assert (tight.calls, loose.calls, centre.calls) == (1, 1, 1)
    assert a.reference_id != b.reference_id
    assert a.reference_id == c.reference_id and a.params != c.params
    assert len(cache) == 3
    again = CachedDetector(detector, cache)
    assert again.detect(img).model_dump() == a.model_dump()
    assert again.calls == 0


def test_cached_detector_on_arrays_and_bad_input(detector, tmp_path):
    cached = CachedDetector(detector, tmp_path / "c.sqlite")
    img = load_face("grace_hopper")
    r1 = cached.detect(img, sample_id="g")
    r2 = cached.detect(img.copy(), sample_id="g")  # same pixels -> same content hash
    assert cached.calls == 1
    assert r1.model_dump() == r2.model_dump()
    assert cached.detect(b"junk").status == "error"


def test_default_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TAG_BENCH_CACHE", str(tmp_path / "cachedir"))
    assert default_cache_path() == tmp_path / "cachedir" / "au_cache.sqlite"
    cache = AUCache()
    assert cache.path.exists()
    monkeypatch.delenv("TAG_BENCH_CACHE")
    assert default_cache_path() == Path.home() / ".cache" / "tag-bench" / "au_cache.sqlite"


WRITER = textwrap.dedent(
    """
    import sys
    from tag_bench.au.cache import AUCache
    from tag_bench.au.geometric import MediaPipeGeometricDetector
    from tag_bench.schema import AUState

    path, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    det = MediaPipeGeometricDetector()
    cache = AUCache(path)
    for i in range(n):
        key = f"{i % 40:064x}"  # keys overlap between writers
        ref = det.reference(status="ok", image_sha256=key, face_box=[0, 0, i, i],
                            aus={"AU12": AUState(score=(i % 10) / 10, active=i % 10 >= 5)})
        cache.put(key, det, ref)
        got = cache.get(key, det)
        assert got is not None and got.image_sha256 == key
    print("done", worker)
    """
)


def test_several_writer_processes_share_one_file(tmp_path):
    path = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(w), "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        assert "done" in out
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = c.execute("SELECT image_sha256, record FROM au_refs_compact_v1").fetchall()
    assert len(rows) == 40
    for _key, record in rows:
        assert marshal.loads(record)[0] == "ok"
