"""Typed configs: conversion, YAML round trips, and errors that name file, line, key and type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from lab.config import apply_sets, dump_yaml, field_docs, from_dict, load_yaml, parse_set, save_yaml, to_dict
from lab.errors import ConfigError


@dataclass
class Inner:
    size: int = 64
    """Hidden units."""


@dataclass
class Cfg:
    lr: float = 1e-3
    """Learning rate."""
    layers: list[int] = field(default_factory=lambda: [64, 64])
    """Layer sizes."""
    mode: Literal["fast", "slow"] = "fast"
    """Which mode."""
    limit: int | None = None
    """Optional limit."""
    flag: bool = False
    """A switch."""
    inner: Inner = field(default_factory=Inner)
    """Nested."""


def test_from_dict_converts_to_field_types():
    cfg = from_dict(Cfg, {"lr": "3e-4", "layers": ["32", 16], "limit": "null", "flag": "yes", "inner": {"size": "8"}})
    assert cfg == Cfg(lr=3e-4, layers=[32, 16], mode="fast", limit=None, flag=True, inner=Inner(8))
    assert from_dict(Cfg, {"limit": 5.0}).limit == 5


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError, match=r"^unknown key 'lrr'; did you mean 'lr'\?$"):
        from_dict(Cfg, {"lrr": 1})
    with pytest.raises(ConfigError, match=r"^unknown key 'inner.sise'; did you mean 'inner.size'\?$"):
        from_dict(Cfg, {"inner": {"sise": 1}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lr": "fast"}, "lr: expected float, got 'fast'"),
        ({"layers": "64"}, "layers: expected list[int], got '64'"),
        ({"limit": 1.5}, "limit: expected int or null, got 1.5"),
        ({"flag": 3}, "flag: expected bool, got 3"),
        ({"mode": "slwo"}, "mode: 'slwo' is not one of 'fast', 'slow'; did you mean 'slow'?"),
    ],
)
def test_wrong_type_names_key_type_and_value(data, message):
    with pytest.raises(ConfigError) as e:
        from_dict(Cfg, data)
    assert str(e.value) == message


def test_yaml_errors_name_file_and_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 0.1\nlayers: [64, 64\nmode: fast\n")
    with pytest.raises(ConfigError) as e:
        load_yaml(path)
    assert str(e.value).startswith(f"{path}:3: malformed YAML")

    path.write_text("lr: 0.1\n\nlayers: [1, x]\n")
    prov: dict = {}
    data = load_yaml(path, prov)
    with pytest.raises(ConfigError) as e:
        from_dict(Cfg, data, provenance=prov)
    assert str(e.value) == f"{path}:3: layers: expected list[int], got [1, 'x']"

    with pytest.raises(ConfigError, match=r"missing\.yaml: file not found$"):
        load_yaml(tmp_path / "missing.yaml")


def test_dump_and_load_round_trip_with_field_docs_as_comments(tmp_path):
    cfg = Cfg(lr=2.5e-4, layers=[8], mode="slow", limit=3, flag=True, inner=Inner(4))
    text = dump_yaml(cfg, header="a header")
    assert text.startswith("# a header\n")
    assert "lr: 0.00025  # Learning rate." in text
    assert "inner:  # Nested.\n  size: 4  # Hidden units." in text
    save_yaml(cfg, tmp_path / "c.yaml")
    assert from_dict(Cfg, load_yaml(tmp_path / "c.yaml")) == cfg
    assert load_yaml(tmp_path / "c.yaml") == to_dict(cfg)
    assert field_docs(Cfg)["limit"] == "Optional limit."


def test_parse_set_reads_values_as_yaml():
    assert parse_set("agent.lr=0.5") == (("agent", "lr"), 0.5)
    assert parse_set("lr=3e-4") == (("lr",), "3e-4")  # YAML 1.1 reads 3e-4 as text: the field type converts it
    assert from_dict(Cfg, apply_sets({}, ["lr=3e-4"])).lr == 3e-4
    assert parse_set("layers=[32, 32]") == (("layers",), [32, 32])
    assert parse_set("limit=null") == (("limit",), None)
    assert parse_set("name=a=b") == (("name",), "a=b")
    with pytest.raises(ConfigError, match=r"^--set 'lr': expected key=value"):
        parse_set("lr")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_set("a..b=1")


def test_apply_sets_records_provenance_for_messages():
    prov: dict = {}
    data = apply_sets({"inner": {"size": 1}}, ["inner.size=abc"], prov)
    with pytest.raises(ConfigError) as e:
        from_dict(Cfg, data, provenance=prov)
    assert str(e.value) == "--set inner.size=abc: inner.size: expected int, got 'abc'"


@dataclass
class _Checked:
    a: int = 1
    b: int = 1

    def __post_init__(self) -> None:
        if self.a < 1:
            raise ValueError(f"a: expected a positive number, got {self.a}")
        if self.b < 1:
            raise ConfigError(f"outer.b: expected a positive number, got {self.b}")


@dataclass
class _Outer:
    outer: _Checked = field(default_factory=_Checked)


def test_validation_errors_of_any_kind_carry_their_location(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("outer:\n  a: 0\n  b: 1\n")
    prov = {}
    with pytest.raises(ConfigError) as a:
        from_dict(_Outer, load_yaml(path, prov), provenance=prov)
    path.write_text("outer:\n  a: 1\n  b: 0\n")
    prov = {}
    with pytest.raises(ConfigError) as b:  # a ConfigError from __post_init__ reads like a ValueError
        from_dict(_Outer, load_yaml(path, prov), provenance=prov)
    assert str(a.value) == f"{path}:2: outer.a: expected a positive number, got 0"
    assert str(b.value) == f"{path}:3: outer.b: expected a positive number, got 0"
