"""Dataset loaders: RAF-DB, FERPlus, AffectNet, folder-per-class layouts and the offline demo set."""

from tag_bench.data.base import DatasetError, SplitData, get_loader, load_split, register_loader

__all__ = ["DatasetError", "SplitData", "get_loader", "load_split", "register_loader"]
