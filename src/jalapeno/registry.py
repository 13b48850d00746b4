"""A named registry of variants (schedulers, routers, engines, chip kinds): one mechanism for all of them.

Why: a variant spelled as a string in many files drifts (two lists diverge, one branch forgets a
name). Here a variant registers itself once, by name, and every other place (CLI choices, validation
messages, design spaces) asks the registry. A registry given a ``package`` imports every module of
that package on its first lookup (``pkgutil``), so a new variant is one new module in that package:
nothing else has to import it. This module imports nothing of the project but its error type, so any
layer may use it.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from jalapeno.errors import JalapenoError

T = TypeVar("T")


class Registry(Generic[T]):
    """Variants of one kind by name, with a one-line summary each (for help texts)."""

    def __init__(self, kind: str, *, field: str, package: str | None = None) -> None:
        self.kind = kind  # "scheduler": used in messages
        self.field = field  # the JalapenoError field of a bad name
        self.package = package
        self._entries: dict[str, tuple[T, str]] = {}
        self._discovered = package is None  # set when discovery starts
        self._complete = package is None  # set when it has imported every module
        self._lock = threading.RLock()  # threads (a Dask worker's) wait for another's discovery to end

    def register(self, name: str, summary: str = "") -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name", "what it does")`` on a class or factory."""

        def deco(entry: T) -> T:
            self.add(name, entry, summary)
            return entry

        return deco

    def add(self, name: str, entry: T, summary: str = "") -> None:
        old = self._entries.get(name)
        if old is not None and old[0] is not entry:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = (entry, summary)

    def remove(self, name: str) -> None:
        """Forget a variant (tests register toys and clean up after themselves)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        self._discover()
        if name not in self._entries:
            raise JalapenoError(
                f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}", field=self.field
            )
        return self._entries[name][0]

    def names(self) -> tuple[str, ...]:
        self._discover()
        return tuple(sorted(self._entries))

    def summaries(self) -> dict[str, str]:
        return {n: self._entries[n][1] for n in self.names()}

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _discover(self) -> None:
        if self._complete:
            return
        with self._lock:  # another thread's lookup waits here until the variants are all registered
            if self._discovered:  # done, or under way in this thread (a variant looking names up as it loads)
                return
            self._discovered = True  # before importing: a variant module may look names up while it loads
            assert self.package is not None
            pkg = importlib.import_module(self.package)
            for info in pkgutil.iter_modules(pkg.__path__, f"{self.package}."):
                importlib.import_module(info.name)
            self._complete = True
