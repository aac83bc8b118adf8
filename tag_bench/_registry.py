"""One registry mechanism for every pluggable kind: tasks, dataset loaders, model adapters, AU
detectors, report formats.

Entries are registered by name as an object, or lazily as ``"package.module:attribute"`` (imported on
first use, so listing names never imports torch or mediapipe). A registry may also read an entry-point
group, so another package can add entries without touching tag-bench. Rules, the same for every kind:

- a name registered twice (built-in, ``register`` call or entry point) is an error naming both sources,
  never silent shadowing;
- an unknown name is an error listing the known names and the closest matches.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Generic, TypeVar, overload

from tag_bench.errors import TagBenchError

T = TypeVar("T")


class RegistryError(TagBenchError, LookupError):
    """An unknown name, a name registered twice, or an entry that cannot be loaded."""


@dataclass
class _Entry:
    target: Any  # the object, or "module:attr" until loaded
    source: str  # where it came from, for messages
    loaded: bool


def load_target(target: str) -> Any:
    """Import ``"package.module:attribute"`` (attribute may be dotted)."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise RegistryError(f"{target!r} is not of the form 'package.module:attribute'")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Named entries of one kind (``kind`` is used in messages, e.g. "model adapter")."""

    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, _Entry] = {}
        self._entry_points_read = False
        self._lock = threading.RLock()

    # ------------------------------------------------------------------------------------ adding

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, target: T | str, *, source: str | None = None) -> T | str: ...

    def register(self, name: str, target: Any = None, *, source: str | None = None) -> Any:
        """Add ``name``; as a decorator when ``target`` is omitted. A taken name is a RegistryError."""
        if target is None:

            def decorator(obj: T) -> T:
                self.register(name, obj, source=source)
                return obj

            return decorator
        self._add(name, target, source or _describe(target))
        return target

    def _add(self, name: str, target: Any, source: str) -> None:
        if not name or not isinstance(name, str):
            raise RegistryError(f"{self.kind} name must be a non-empty string, got {name!r}")
        with self._lock:
            old = self._entries.get(name)
            if old is not None:
                raise RegistryError(
                    f"{self.kind} {name!r} is registered twice: by {old.source} and by {source}; "
                    "rename one of them"
                )
            self._entries[name] = _Entry(target, source, loaded=not isinstance(target, str))

    def _read_entry_points(self) -> None:
        if self._entry_points_read or self.entry_point_group is None:
            return
        with self._lock:
            if self._entry_points_read:
                return
            found = []
            for ep in metadata.entry_points(group=self.entry_point_group):
                dist = getattr(ep, "dist", None)
                where = f" of {dist.name}" if dist is not None else ""
                found.append((ep.name, ep.value, f"entry point {ep.name} = {ep.value}{where}"))
            added: list[str] = []
            try:
                for name, value, source in found:
                    self._add(name, value, source)
                    added.append(name)
            except RegistryError:
                for name in added:  # all or nothing: the clash is raised again on every use
                    del self._entries[name]
                raise
            self._entry_points_read = True

    # ----------------------------------------------------------------------------------- reading

    def names(self) -> list[str]:
        self._read_entry_points()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._read_entry_points()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def in_order(self) -> list[str]:
        """The names in the order they were registered (entry points after the built-ins)."""
        self._read_entry_points()
        return list(self._entries)

    def source(self, name: str) -> str:
        return self._entry(name).source

    def get(self, name: str) -> T:
        """The entry, imported on first use."""
        entry = self._entry(name)
        if not entry.loaded:
            with self._lock:
                if not entry.loaded:
                    try:
                        entry.target = load_target(entry.target)
                    except RegistryError:
                        raise
                    except Exception as e:
                        raise RegistryError(
                            f"cannot load {self.kind} {name!r} from {entry.source}: {type(e).__name__}: {e}"
                        ) from e
                    entry.loaded = True
        return entry.target

    def _entry(self, name: str) -> _Entry:
        self._read_entry_points()
        entry = self._entries.get(name)
        if entry is None:
            raise RegistryError(self.unknown_message(name))
        return entry

    def unknown_message(self, name: str) -> str:
        known = self.names()
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        return f"unknown {self.kind} {name!r}{hint}; known: {', '.join(known) or 'none'}"

    def unregister(self, name: str) -> None:
        """Remove an entry (tests and interactive sessions)."""
        with self._lock:
            self._entries.pop(name, None)


def _describe(target: Any) -> str:
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    qual = getattr(target, "__qualname__", None) or type(target).__name__
    return f"{module}:{qual}" if module else qual
