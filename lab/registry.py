"""Name -> lazy ``"module:attr"`` registries for agents, environments, generators and data sets.

Plugins are found through entry points (groups ``lab.agents``, ``lab.envs``, ``lab.generators``,
``lab.datasets``, ``lab.players``): each entry point's name is the registered name and its value the target, which is
imported only when the plugin is used. The lab's own plugins are declared the same way in its
``pyproject.toml``; code may also call :meth:`Registry.register` directly.

>>> reg = Registry("agent", group=None)
>>> reg.register("const", "builtins:dict", description="A dict.")
>>> reg.make("const", a=1)
{'a': 1}
>>> reg.register("const", "builtins:list")
Traceback (most recent call last):
...
lab.errors.LabError: agent 'const' is registered twice: 'builtins:dict' (runtime) and 'builtins:list' (runtime)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from lab.errors import LabError, MissingDependencyError, unknown_name

__all__ = ["Entry", "Registry", "load_target", "AGENTS", "ENVS", "GENERATORS", "DATASETS", "PLAYERS"]


@dataclass(frozen=True)
class Entry:
    """One registered plugin."""

    name: str
    target: str
    """``"module:attr"``, imported on first use."""
    description: str = ""
    source: str = "runtime"
    """Where it came from: the distribution that declared the entry point, or ``runtime``."""


def load_target(target: str) -> Any:
    """Import ``"module:attr"`` (attr may be dotted) and return the attribute.

    Raises:
        LabError: if the string is malformed, or the module or attribute does not exist.
        MissingDependencyError: if the module exists but one of its imports is not installed.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise LabError(f"{target!r} is not a 'module:attr' target")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise LabError(f"cannot import {target!r}: no module named {e.name!r}") from None
        raise MissingDependencyError(f"{target!r} needs the package {e.name!r}, which is not installed") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LabError(f"cannot import {target!r}: module {module_name!r} has no attribute {attr!r}") from None
    return obj


class Registry:
    """Registered plugins of one kind, discovered lazily from an entry-point group."""

    def __init__(self, kind: str, group: str | None) -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, Entry] = {}
        self._discovered = group is None

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        seen: set[tuple[str, str]] = set()
        for ep in metadata.entry_points(group=self.group):
            key = (ep.name, ep.value)
            if key in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(key)
            source = ep.dist.name if ep.dist is not None else "entry point"
            self._add(Entry(ep.name, ep.value, source=source))

    def _add(self, entry: Entry) -> None:
        old = self._entries.get(entry.name)
        if old is not None:
            raise LabError(
                f"{self.kind} {entry.name!r} is registered twice: {old.target!r} ({old.source}) "
                f"and {entry.target!r} ({entry.source})"
            )
        self._entries[entry.name] = entry

    def register(self, name: str, target: str, *, description: str = "", source: str = "runtime") -> None:
        """Register ``name`` -> ``target`` (``"module:attr"``). A duplicate name is an error."""
        if ":" not in target:
            raise LabError(f"{self.kind} {name!r}: target {target!r} is not a 'module:attr' string")
        self._discover()
        self._add(Entry(name, target, description, source))

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and interactive use)."""
        self._discover()
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def get(self, name: str) -> Entry:
        """The entry for ``name``; an unknown name lists the choices and suggests the closest."""
        self._discover()
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_name(self.kind, name, self._entries) from None

    def load(self, name: str) -> Any:
        """Import and return the target registered as ``name``."""
        return load_target(self.get(name).target)

    def make(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``load(name)(*args, **kwargs)``."""
        return self.load(name)(*args, **kwargs)

    def describe(self, name: str) -> str:
        """A one-line description: the registered one, else the target's ``description`` or docstring."""
        entry = self.get(name)
        if entry.description:
            return entry.description
        try:
            obj = self.load(name)
        except LabError as e:
            return f"(unavailable: {e})"
        text = getattr(obj, "description", None) or (obj.__doc__ or "")
        first = text.strip().splitlines()[0] if text.strip() else ""
        return first.replace("``", "`")  # docstrings use reST literals; a terminal line wants plain ones


AGENTS = Registry("agent", "lab.agents")
ENVS = Registry("environment", "lab.envs")
GENERATORS = Registry("generator", "lab.generators")
DATASETS = Registry("data set", "lab.datasets")
PLAYERS = Registry("player", "lab.players")
"""Game players named in player specs (``random``, ``mcts:400``, ``alphazero:RUN_DIR``); see ``lab.players``."""
