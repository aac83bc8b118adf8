"""Presented image sizes of many samples: read in forked processes from 20,000 samples, the same
sizes and errors, in order, as one process reads them."""

from __future__ import annotations

import os
import sys

import pytest
from PIL import Image

from tag_bench import images
from tag_bench.images import ImageLoadError, presented_sizes
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
    parent, serial = os.getpid(), images._sizes

    def in_workers_only(chunk):
        assert os.getpid() != parent, "read in the parent process"
        return serial(chunk)

    monkeypatch.setattr(images, "_sizes", in_workers_only)  # the forked workers inherit it
    got = presented_sizes(samples)
    want = serial(samples)
    assert [str(x) if isinstance(x, ImageLoadError) else x for x in got] == [
        str(x) if isinstance(x, ImageLoadError) else x for x in want
    ]
    assert got[1] == (64, 48) and got[7] == (28, 37) and isinstance(got[997], ImageLoadError)
    assert images._FORKED_SAMPLES is None  # nothing kept after the read
