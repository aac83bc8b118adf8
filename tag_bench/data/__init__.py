"""Dataset loaders: RAF-DB, FERPlus, AffectNet, folder-per-class layouts and the offline demo set."""

from tag_bench.data.base import (
    DatasetError,
    DatasetSpec,
    Probe,
    SplitData,
    get_loader,
    get_spec,
    load_split,
    register_loader,
)

__all__ = [
    "DatasetError",
    "DatasetSpec",
    "Probe",
    "SplitData",
    "get_loader",
    "get_spec",
    "load_split",
    "register_loader",
]
