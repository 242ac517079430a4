"""Typed dataclass configs: YAML in and out, ``--set key=value`` overrides, errors that say where.

Every component has one dataclass with a docstring under each field. YAML only loads and saves those
dataclasses; values are converted to each field's type, and every problem names the file and line (or
the ``--set`` item), the dotted key, what was expected and what was given.

>>> from dataclasses import dataclass
>>> @dataclass
... class Opt:
...     lr: float = 1e-3
...     '''Learning rate.'''
...     layers: list[int] = None
>>> from_dict(Opt, {"lr": "3e-4", "layers": [64, 64]})
Opt(lr=0.0003, layers=[64, 64])
>>> from_dict(Opt, {"lrr": 1})
Traceback (most recent call last):
...
lab.errors.ConfigError: unknown key 'lrr'; did you mean 'lr'?
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import math
import os
import textwrap
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from lab import atomic
from lab.errors import ConfigError, closest

__all__ = [
    "Provenance",
    "load_yaml",
    "parse_set",
    "apply_sets",
    "deep_merge",
    "from_dict",
    "to_dict",
    "convert",
    "field_docs",
    "dump_yaml",
    "save_yaml",
    "type_name",
]

KeyPath = tuple[str, ...]
Provenance = dict[KeyPath, str]
"""Where each key's value came from: ``"file.yaml:7"`` or ``"--set a.b=1"``; longest prefix wins."""


# --- reading ---------------------------------------------------------------------------------


def load_yaml(path: str | os.PathLike, provenance: Provenance | None = None) -> Any:
    """Load a YAML file; record each mapping key's ``file:line`` into ``provenance``.

    Raises:
        ConfigError: the file is missing, unreadable, or not valid YAML (with its line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a YAML file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror or e})") from None
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise ConfigError(f"{path}:{line}: not a text file: it contains a NUL byte")
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as e:  # ReaderError: characters YAML does not allow
        raise ConfigError(f"{path}: malformed YAML: {str(e).splitlines()[0][:200]}") from None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = e.problem or e.context or "invalid YAML"
        raise ConfigError(f"{path}{line}: malformed YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: malformed YAML: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}") from None
    finally:
        loader.dispose()
    if provenance is not None and node is not None:
        _record_lines(node, (), str(path), provenance)
    return data


def _record_lines(node: yaml.Node, prefix: KeyPath, fname: str, out: Provenance) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            path = (*prefix, str(key_node.value))
            out[path] = f"{fname}:{key_node.start_mark.line + 1}"
            _record_lines(value_node, path, fname, out)


def parse_set(item: str) -> tuple[KeyPath, Any]:
    """Parse one ``--set key.path=value``; the value is read as YAML (``3``, ``1e-3``, ``[64, 64]``, ``null``)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set agent.learning_rate=3e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return tuple(key.split(".")), value


def apply_sets(data: dict, items: Iterable[str], provenance: Provenance | None = None) -> dict:
    """Apply ``--set`` items to a nested dict (in place) and return it."""
    for item in items:
        path, value = parse_set(item)
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
        if provenance is not None:
            for p in [p for p in provenance if p[: len(path)] == path]:
                del provenance[p]
            provenance[path] = f"--set {item}"
    return data


def deep_merge(base: Mapping, overlay: Mapping) -> dict:
    """A new dict: ``overlay`` over ``base``, merging nested dicts key by key."""
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# --- conversion ------------------------------------------------------------------------------


def _where(path: KeyPath, provenance: Provenance | None) -> str:
    if provenance:
        for n in range(len(path), 0, -1):
            origin = provenance.get(path[:n])
            if origin is not None:
                return origin + ": "
    return ""


def _dotted(path: KeyPath) -> str:
    return ".".join(path)


def type_name(tp: Any) -> str:
    """A short readable name for a type annotation (``int``, ``list[int]``, ``one of 'a', 'b'``)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        names = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in args else "")
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if tp is Any:
        return "any value"
    return getattr(tp, "__name__", str(tp))


class _Mismatch(Exception):
    """Internal: a value that does not fit a type (turned into a ConfigError with its location)."""


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _convert(value: Any, tp: Any, path: KeyPath, prov: Provenance | None, field_types: Mapping) -> Any:
    if tp is Any or tp is object:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        if value in args:
            return value
        if isinstance(value, str):
            hits = closest(value, [a for a in args if isinstance(a, str)], n=1)
            if hits:
                raise ConfigError(
                    f"{_where(path, prov)}{_dotted(path)}: {value!r} is not {type_name(tp)}; did you mean {hits[0]!r}?"
                )
        raise _Mismatch
    if origin in (Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "~")):
            if type(None) in args:
                return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, path, prov, field_types)
            except (_Mismatch, ConfigError):
                continue
        raise _Mismatch
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise _Mismatch
        return from_dict(tp, value, provenance=prov, prefix=path, field_types=field_types)
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or isinstance(value, Mapping):
            raise _Mismatch
        items = list(value)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(items) != len(args):
                raise _Mismatch
            return tuple(_convert(v, a, (*path, str(i)), prov, field_types) for i, (v, a) in enumerate(zip(items, args)))
        inner = args[0] if args else Any
        converted = [_convert(v, inner, (*path, str(i)), prov, field_types) for i, v in enumerate(items)]
        return (origin or tp)(converted) if (origin or tp) is not list else converted
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise _Mismatch
        vt = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, vt, (*path, str(k)), prov, field_types) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise _Mismatch
    if tp is int:
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                try:
                    value = float(value)
                except ValueError:
                    raise _Mismatch from None
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, bool):
            raise _Mismatch
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise _Mismatch
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch
    return value


def convert(value: Any, tp: Any, path: KeyPath = (), provenance: Provenance | None = None) -> Any:
    """Convert ``value`` to the annotation ``tp``, or raise a ConfigError naming key, type and value."""
    try:
        return _convert(value, tp, path, provenance, {})
    except _Mismatch:
        raise ConfigError(
            f"{_where(path, provenance)}{_dotted(path) or 'value'}: expected {type_name(tp)}, got {value!r}"
        ) from None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_dict(
    cls: type,
    data: Mapping[str, Any] | None,
    *,
    provenance: Provenance | None = None,
    prefix: KeyPath = (),
    field_types: Mapping[KeyPath, type] | None = None,
) -> Any:
    """Build dataclass ``cls`` from a (nested) mapping, converting every value to its field's type.

    Args:
        cls: the dataclass.
        data: values by field name; missing fields keep their defaults.
        provenance: where each key came from, for error messages.
        prefix: the key path of ``cls`` inside the whole config (for messages).
        field_types: replacement types by key path, for fields whose dataclass is chosen at run time
            (``{("agent",): PPOConfig}``).

    Raises:
        ConfigError: unknown key (with the closest known one), wrong type, missing required field.
    """
    field_types = field_types or {}
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{_where(prefix, provenance)}{_dotted(prefix) or 'config'}: expected a mapping of keys, got {data!r}"
        )
    hints = _hints(cls)
    init_fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = (*prefix, str(key))
        if key not in init_fields:
            hits = closest(str(key), init_fields, n=1)
            hint = f"; did you mean {_dotted((*prefix, hits[0]))!r}?" if hits else f"; known keys: {', '.join(init_fields)}"
            raise ConfigError(f"{_where(path, provenance)}unknown key {_dotted(path)!r}{hint}")
        tp = field_types.get(path, hints[key])
        try:
            kwargs[key] = _convert(value, tp, path, provenance, field_types)
        except _Mismatch:
            raise ConfigError(
                f"{_where(path, provenance)}{_dotted(path)}: expected {type_name(tp)}, got {value!r}"
            ) from None
    missing = [
        name
        for name, f in init_fields.items()
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{_where(prefix, provenance)}missing key {_dotted((*prefix, missing[0]))!r}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:  # ConfigError included: every layer's validation reads the same
        # a validation message "field: problem" points at that field (and where it was set)
        name, sep, problem = str(e).partition(": ")
        field_name = _field_named(name, prefix, init_fields) if sep else None
        if field_name is not None:
            path = (*prefix, field_name)
            raise ConfigError(f"{_where(path, provenance)}{_dotted(path)}: {problem}") from None
        raise ConfigError(f"{_where(prefix, provenance)}{_dotted(prefix) or cls.__name__}: {e}") from None


def _field_named(name: str, prefix: KeyPath, fields: Mapping[str, Any]) -> str | None:
    """The field a validation message starts with: ``n_steps``, ``agent.n_steps`` or a flag, ``--n-steps 0``.

    >>> _field_named("--workers 2", ("agent",), {"workers": None})
    'workers'
    >>> _field_named("agent.workers", ("agent",), {"workers": None}), _field_named("other", (), {"workers": None})
    ('workers', None)
    """
    candidates = [name, name.removeprefix(_dotted(prefix) + ".") if prefix else name]
    if name.startswith("--"):
        candidates.append(name[2:].split(" ")[0].replace("-", "_"))
    return next((c for c in candidates if c in fields), None)


# --- writing ---------------------------------------------------------------------------------


def to_dict(obj: Any) -> Any:
    """Plain YAML/JSON-ready data from a dataclass (recursively; tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of dataclass ``cls`` (and its dataclass bases)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        tree = ast.parse(source)
        if not tree.body or not isinstance(tree.body[0], ast.ClassDef):
            continue
        body = tree.body[0].body
        for node, nxt in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False).strip()
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    elif text.endswith("..."):
        text = text[:-3].rstrip()
    return text


def _emit(
    obj: Any, indent: int, lines: list[str], comments: bool, sources: Mapping[str, str] | None = None, prefix: str = ""
) -> None:
    pad = " " * indent
    docs = field_docs(type(obj)) if comments and dataclasses.is_dataclass(obj) else {}
    items = (
        [(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init]
        if dataclasses.is_dataclass(obj)
        else list(obj.items())
    )
    for key, value in items:
        doc = docs.get(key, "").split("\n")[0]
        dotted = f"{prefix}{key}"
        origin = (sources or {}).get(dotted)
        doc = f"[{origin}] {doc}".rstrip() if origin else doc
        note = f"  # {doc}" if doc else ""
        nested = dataclasses.is_dataclass(value) or (isinstance(value, Mapping) and value)
        if nested:
            lines.append(f"{pad}{key}:{note}")
            _emit(value, indent + 2, lines, comments, sources, dotted + ".")
        else:
            lines.append(f"{pad}{key}: {_flow(to_dict(value))}{note}")


def dump_yaml(
    obj: Any, *, comments: bool = True, header: str = "", sources: Mapping[str, str] | None = None
) -> str:
    """YAML text for a dataclass (or dict), each field's docstring as a trailing comment.

    ``sources`` (dotted key -> where the value came from) prefixes those comments with ``[origin]``.
    ``load_yaml`` of the result gives back ``to_dict(obj)``.
    """
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    _emit(obj, 0, lines, comments, sources)
    return "\n".join(lines) + "\n"


def save_yaml(
    obj: Any,
    path: str | os.PathLike,
    *,
    comments: bool = True,
    header: str = "",
    sources: Mapping[str, str] | None = None,
) -> None:
    """Write ``dump_yaml(obj)`` to ``path`` atomically."""
    atomic.write_text(path, dump_yaml(obj, comments=comments, header=header, sources=sources))
