"""Image ids remembered across runs (``tag_bench.file_ids``): a file is read again whenever it changed."""

from __future__ import annotations

import contextlib
import os

import pytest
from PIL import Image

from tag_bench import file_ids, images
from tag_bench.images import ImageLoadError, presented_sizes, presented_sizes_and_ids
from tag_bench.schema import Sample


def _sample(i: int, path, **kw) -> Sample:
    return Sample(
        id=f"s{i}", dataset="d", split="t", image=str(path), label="neutral", native_label="n", **kw
    )


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder; files count as settled as soon as they are written."""
    monkeypatch.setenv("TAG_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(file_ids, "SETTLE_S", 0.0)
    monkeypatch.setattr(images, "_FILE_SHAS", {})
    return tmp_path / "cache" / file_ids.FILE_NAME


def _faces(tmp_path, n: int = 3) -> list:
    paths = []
    for k in range(n):
        paths.append(tmp_path / f"face{k}.png")
        Image.new("RGB", (20 + k, 30), (k * 40, 10, 10)).save(paths[-1])
    return paths


def _no_reads(monkeypatch) -> None:
    def refuse(*_a, **_k):
        raise AssertionError("an image file was read")

    monkeypatch.setattr(images, "_size_and_id_of_file", refuse)
    monkeypatch.setattr(images, "file_sha256", refuse)
    monkeypatch.setattr(images, "presented_size", refuse)


def test_a_second_run_reads_no_unchanged_file_and_gets_the_same_answers(tmp_path, cache, monkeypatch):
    paths = _faces(tmp_path)
    samples = [_sample(0, paths[0]), _sample(1, paths[1], crop=[2, 3, 15, 20]), _sample(2, paths[2]),
               _sample(3, paths[0], width=64, height=48), _sample(4, tmp_path / "gone.png")]  # fmt: skip
    first = presented_sizes_and_ids(samples)
    assert cache.exists()
    monkeypatch.setattr(images, "_FILE_SHAS", {})  # as in a new process
    with monkeypatch.context() as m:
        _no_reads(m)
        second = presented_sizes_and_ids(samples[:4])
    assert second == first[:4]
    assert first[1][0] == (13, 17) and first[3][0] == (64, 48)
    assert isinstance(first[4], ImageLoadError) and "not found" in str(first[4])
    # the same answers as reading every file with nothing remembered
    monkeypatch.setattr(images, "REMEMBER_ACROSS_RUNS", False)
    monkeypatch.setattr(images, "_FILE_SHAS", {})
    assert [str(x) for x in presented_sizes_and_ids(samples)] == [str(x) for x in first]


def test_sizes_alone_come_from_what_was_remembered(tmp_path, cache, monkeypatch):
    paths = _faces(tmp_path)
    samples = [_sample(k, p) for k, p in enumerate(paths)]
    want = presented_sizes_and_ids(samples)
    monkeypatch.setattr(images, "_FILE_SHAS", {})
    _no_reads(monkeypatch)
    assert presented_sizes(samples) == [w for w, _ in want]  # type: ignore[misc]


def test_a_file_rewritten_in_place_with_its_old_size_and_mtime_is_read_again(tmp_path, cache, monkeypatch):
    path, other = tmp_path / "face.bmp", tmp_path / "other.bmp"  # a BMP's length depends on its size only
    Image.new("RGB", (20, 30), (10, 20, 30)).save(path)
    Image.new("RGB", (20, 30), (200, 200, 200)).save(other)
    sample = _sample(0, path)
    ((_, old),) = presented_sizes_and_ids([sample])  # type: ignore[misc]
    st = os.stat(path)
    with open(path, "r+b") as f:  # same inode, same length, other pixels
        f.write(other.read_bytes())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime set back, as `cp -p` or `tar` do
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    monkeypatch.setattr(images, "_FILE_SHAS", {})
    ((_, new),) = presented_sizes_and_ids([sample])  # type: ignore[misc]
    assert new != old and new == images._image_id(sample)[2]


def test_a_file_changed_just_before_it_was_read_is_not_remembered(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(file_ids, "SETTLE_S", 3600.0)
    paths = _faces(tmp_path, 2)
    presented_sizes_and_ids([_sample(k, p) for k, p in enumerate(paths)])
    stats = [file_ids.stat_of(os.stat(p)) for p in paths]
    assert file_ids.FileIds(cache).lookup(stats) == [None, None]


def test_a_damaged_file_is_never_an_error(tmp_path, cache, monkeypatch):
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"not a database " * 100)
    paths = _faces(tmp_path, 2)
    samples = [_sample(k, p) for k, p in enumerate(paths)]
    got = presented_sizes_and_ids(samples)
    monkeypatch.setattr(images, "_FILE_SHAS", {})
    assert presented_sizes_and_ids(samples) == got
    assert cache.read_bytes().startswith(b"not a database")  # left as it was


def test_a_read_without_the_header_keeps_the_size_of_the_same_bytes_only(tmp_path):
    ids = file_ids.FileIds(tmp_path / "ids.sqlite")
    old = (1, 2, 300, 10, 10)
    ids.store([(old, ("aaa", (10, 20)))], read_at_ns=10**12)
    touched = (1, 2, 300, 10, 11)  # chmod: the same bytes
    ids.store([(touched, ("aaa", None))], read_at_ns=10**12)
    assert ids.lookup([touched]) == [("aaa", (10, 20))]
    rewritten = (1, 2, 300, 10, 12)
    ids.store([(rewritten, ("bbb", None))], read_at_ns=10**12)
    assert ids.lookup([rewritten, old]) == [("bbb", None), None]


def test_ids_read_alone_are_remembered_with_their_size(tmp_path, cache, monkeypatch):
    paths = [*_faces(tmp_path), tmp_path / "notes.txt"]
    paths[-1].write_text("an id, but no image header")
    samples = [_sample(k, p) for k, p in enumerate(paths)]
    ids = images.image_sha256s(samples)  # what `tag-bench au detect` reads
    monkeypatch.setattr(images, "_FILE_SHAS", {})
    with monkeypatch.context() as m:
        _no_reads(m)
        got = presented_sizes_and_ids(samples[:3])  # what scoring predictions reads next
    assert got == [((20 + k, 30), ids[k]) for k in range(3)]
    assert isinstance(ids[3], str) and isinstance(presented_sizes_and_ids(samples)[3], ImageLoadError)


def _rows(path) -> set[int]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {ino for (ino,) in conn.execute(f"SELECT ino FROM {file_ids._TABLE}")}


def test_ids_no_run_used_for_keep_days_are_forgotten(tmp_path, monkeypatch):
    path = tmp_path / "ids.sqlite"
    day = [20_000]
    monkeypatch.setattr(file_ids, "today", lambda: day[0])
    ids = file_ids.FileIds(path)
    a, b, c = (1, 10, 5, 1, 1), (1, 11, 5, 1, 1), (1, 12, 5, 1, 1)
    ids.store([(a, ("aaa", (1, 2))), (b, ("bbb", None))], read_at_ns=10**12)
    day[0] += file_ids.REFRESH_DAYS  # a lookup a week later marks `a` used again, not at every hit
    assert ids.lookup([a]) == [("aaa", (1, 2))]
    day[0] += file_ids.KEEP_DAYS - 1  # `b` unused for more than KEEP_DAYS; `a` for fewer
    ids.store([(c, ("ccc", None))], read_at_ns=10**12)
    assert _rows(path) == {10, 12}
    assert ids.lookup([a, b, c]) == [("aaa", (1, 2)), None, ("ccc", None)]
    ids.close()


def test_a_file_written_before_ids_were_dated_keeps_its_ids(tmp_path):
    import sqlite3

    path = tmp_path / "ids.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "CREATE TABLE file_ids_v1 (dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL, "
            "mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, width INTEGER, "
            "height INTEGER, PRIMARY KEY (dev, ino))"
        )
        conn.execute("INSERT INTO file_ids_v1 VALUES (1, 2, 300, 10, 10, 'aaa', 10, 20)")
    ids = file_ids.FileIds(path)
    assert ids.lookup([(1, 2, 300, 10, 10)]) == [("aaa", (10, 20))]
    ids.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        ((used,),) = conn.execute(f"SELECT used FROM {file_ids._TABLE}").fetchall()
    assert tables == {file_ids._TABLE} and used == file_ids.today()
