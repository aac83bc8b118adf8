"""The MediaPipe FaceLandmarker bundle shipped with tag-bench, hash-checked on load.

``face_landmarker.task`` (float16 v1, Apache-2.0; notice and licence beside it in
``tag_bench/resources/models``) is in no mediapipe wheel. tag-bench ships the identical file so that
the blendshape reference is pinned, travels with the benchmark and works air-gapped. Every load checks
its size and sha256: a different file would silently change every number of the reference.
``$TAG_BENCH_FACE_LANDMARKER`` may point at another copy of the same file (e.g. when package data was
stripped); it is held to the same hash.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from tag_bench.errors import TagBenchError

BUNDLE_FILE = "face_landmarker.task"
BUNDLE_SIZE = 3_758_596
BUNDLE_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
ENV_BUNDLE = "TAG_BENCH_FACE_LANDMARKER"

_LOADED: dict[tuple[str, int, int], bytes] = {}
_LOCK = threading.Lock()


class BundleError(TagBenchError, ValueError):
    """The model bundle is missing or is not the pinned file."""


def bundle_path() -> Path:
    """Where the bundle is read from: ``$TAG_BENCH_FACE_LANDMARKER``, else the package's copy."""
    env = os.environ.get(ENV_BUNDLE)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "resources" / "models" / BUNDLE_FILE


def load_bundle() -> tuple[bytes, str]:
    """The bundle's bytes and sha256, checked against the pinned hash (once per file per process).

    Raises BundleError saying what to fix when the file is missing or differs.
    """
    path = bundle_path()
    try:
        st = path.stat()
    except OSError:
        raise BundleError(
            f"the FaceLandmarker bundle is missing at {path}: reinstall tag-bench with its package data, "
            f"or set {ENV_BUNDLE} to a copy of {BUNDLE_FILE} (sha256 {BUNDLE_SHA256})"
        ) from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _LOCK:
        data = _LOADED.get(key)
        if data is None:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if len(data) != BUNDLE_SIZE or digest != BUNDLE_SHA256:
                raise BundleError(
                    f"{path} is not the pinned FaceLandmarker bundle (size {len(data)}, sha256 {digest}; "
                    f"expected {BUNDLE_SIZE} bytes, sha256 {BUNDLE_SHA256}): restore the file shipped "
                    f"with tag-bench or point {ENV_BUNDLE} at a copy of it"
                )
            _LOADED[key] = data
    return data, BUNDLE_SHA256
