"""Presented image sizes and image ids of many samples: read in forked processes from 20,000 samples,
the same values and errors, in order, as one process reads them."""

from __future__ import annotations

import os
import sys

import pytest
from PIL import Image

from tag_bench import _forkmap, images
from tag_bench.images import ImageLoadError, image_sha256, image_sha256s, presented_sizes
from tag_bench.schema import Sample


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the forked reader runs on Linux only")
def test_sizes_read_in_workers_equal_one_process(tmp_path, monkeypatch):
    paths = []
    for k, size in enumerate([(100, 100), (64, 48), (33, 77)]):
        paths.append(tmp_path / f"f{k}.png")
        Image.new("RGB", size).save(paths[-1])
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    samples = []
    for i in range(20_003):
        path = bad if i % 997 == 0 else tmp_path / "missing.png" if i % 1009 == 0 else paths[i % 3]
        crop = [2, 3, 30, 40] if i % 7 == 0 else None
        samples.append(Sample(id=f"s{i}", dataset="d", split="t", image=str(path), label="neutral",
                              native_label="n", crop=crop))  # fmt: skip
    parent, read = os.getpid(), images.presented_size

    def in_workers_only(sample):
        assert os.getpid() != parent, "read in the parent process"
        return read(sample)

    monkeypatch.setattr(images, "presented_size", in_workers_only)  # the forked workers inherit it
    got = presented_sizes(samples)
    monkeypatch.setattr(images, "presented_size", read)
    want = []
    for s in samples:
        try:
            want.append(read(s))
        except ImageLoadError as e:
            want.append(e)
    assert [str(x) if isinstance(x, ImageLoadError) else x for x in got] == [
        str(x) if isinstance(x, ImageLoadError) else x for x in want
    ]
    assert got[1] == (64, 48) and got[7] == (28, 37) and isinstance(got[997], ImageLoadError)
    assert _forkmap._TASK is None  # nothing kept after the read


def _shown(values):
    return [f"error: {x}" if isinstance(x, ImageLoadError) else x for x in values]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the forked reader runs on Linux only")
def test_image_ids_read_in_workers_equal_one_process_and_are_remembered(tmp_path, monkeypatch):
    paths = []
    for k in range(5):
        paths.append(tmp_path / f"f{k}.png")
        Image.new("RGB", (20 + k, 30), (k, 2 * k, 3 * k)).save(paths[-1])
    os.link(paths[0], tmp_path / "link.png")  # another name for the same file: the same id
    bad = tmp_path / "bad.png"
    bad.write_text("not an image, but bytes all the same")
    csv = tmp_path / "fer.csv"
    csv.write_text("emotion,pixels,Usage\n" + "".join(f"0,{' '.join(['7'] * 4)},Test\n" for _ in range(3)))
    samples = []
    for i in range(20_011):
        if i % 1009 == 0:
            s = Sample(id=f"s{i}", dataset="d", split="t", image=str(tmp_path / "missing.png"), label="neutral",
                       native_label="n")  # fmt: skip
        elif i % 13 == 0:
            s = Sample(id=f"s{i}", dataset="d", split="t", image=str(csv), image_index=i % 3, label="neutral",
                       native_label="n")  # fmt: skip
        else:
            path = bad if i % 997 == 0 else tmp_path / "link.png" if i % 11 == 0 else paths[i % 5]
            s = Sample(id=f"s{i}", dataset="d", split="t", image=str(path), label="neutral", native_label="n",
                       crop=[1, 2, 10, 12] if i % 7 == 0 else None)  # fmt: skip
        samples.append(s)
    monkeypatch.setattr(images, "_FILE_SHAS", {})
    parent, read = os.getpid(), images.file_sha256
    reads: list[int] = []

    def in_workers_only(path):
        assert os.getpid() != parent, "a file was read in the parent process"
        return read(path)

    monkeypatch.setattr(images, "file_sha256", in_workers_only)  # the forked workers inherit it
    got = image_sha256s(samples)
    monkeypatch.setattr(images, "file_sha256", lambda path: reads.append(1) or read(path))
    want = []
    for s in samples:  # one process, one sample at a time: every plain file is remembered now
        try:
            want.append(image_sha256(s))
        except ImageLoadError as e:
            want.append(e)
    assert _shown(got) == _shown(want)
    assert not reads, "the ids read in the workers were not remembered in this process"
    assert got[11] == got[5] != got[1]  # a hard link is the same file; another file is another image
    assert got[7] != got[2] and got[13] != got[1]  # a crop and a container row have their own ids
    assert isinstance(got[0], ImageLoadError) and "not found" in str(got[0])
    assert _forkmap._TASK is None


def test_few_image_ids_are_read_in_this_process(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(path)
    samples = [Sample(id=f"s{i}", dataset="d", split="t", image=str(path), label="neutral", native_label="n")
               for i in range(3)]  # fmt: skip
    monkeypatch.setattr(images, "_FILE_SHAS", {})
    parent, read = os.getpid(), images.file_sha256
    monkeypatch.setattr(images, "file_sha256", lambda p: read(p) if os.getpid() == parent else 1 / 0)
    assert image_sha256s(samples) == [image_sha256(samples[0])] * 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the forked reader runs on Linux only")
def test_sizes_and_ids_in_one_pass_equal_each_read_alone(tmp_path, monkeypatch):
    paths = []
    for k in range(4):
        paths.append(tmp_path / f"f{k}.png")
        Image.new("RGB", (10 + k, 20), (k, k, k)).save(paths[-1])
    (tmp_path / "bad.png").write_text("bytes, but no image header")
    samples = [Sample(id=f"s{i}", dataset="d", split="t", label="neutral", native_label="n",
                      image=str(tmp_path / "bad.png" if i % 501 == 0 else paths[i % 4]),
                      crop=[1, 1, 8, 9] if i % 3 == 0 else None) for i in range(20_002)]  # fmt: skip
    monkeypatch.setattr(images, "_FILE_SHAS", {})
    got = images.presented_sizes_and_ids(samples)
    sizes, ids = presented_sizes(samples), image_sha256s(samples)
    for g, size, sha in zip(got, sizes, ids, strict=True):
        if isinstance(size, ImageLoadError):  # an image whose size cannot be read is an error, id or not
            assert isinstance(g, ImageLoadError) and str(g) == str(size) and isinstance(sha, str)
        else:
            assert g == (size, sha)
    assert got[1] == ((11, 20), image_sha256(samples[1])) and got[3][0] == (7, 8)
