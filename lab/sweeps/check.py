"""A sweep file checked against the lab: parameters that are ``lab train`` config keys, a program that exists."""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

from lab.errors import ConfigError, LabError, closest
from lab.sweeps.spec import SweepSpec, load_spec, locate

__all__ = ["check_sweep", "check_train_params", "candidates", "as_set", "program_path"]


def candidates(spec: SweepSpec, key: str) -> list[Any]:
    """The values parameter ``key`` can take (empty when the sweep does not set it)."""
    for p in spec.params:
        if p.path == key:
            return list(p.values)
    return []


def as_set(key: str, value: Any) -> str:
    """A ``--set`` item for one parameter value."""
    return f"{key}={json.dumps(value)}"  # JSON is YAML: a string such as "on" or "null" stays a string


def check_train_params(spec: SweepSpec) -> None:
    """Every parameter must be a ``lab train`` config key; algo and env must be given.

    Raises:
        ConfigError: ``parameters.lr: not a config key of ppo; did you mean 'learning_rate'?``
    """
    from lab.registry import AGENTS
    from lab.training import RUN_KEYS, agent_fields, canonical_key, check_config, resolve_config

    algos, envs = candidates(spec, "algo"), candidates(spec, "env")
    if not algos:
        raise ConfigError("parameters.algo: missing; give the agent, e.g. algo: {value: ppo} (or a program: to run)")
    if not envs:
        raise ConfigError("parameters.env: missing; give the environment, e.g. env: {value: CartPole-v1}")
    for algo in algos:
        try:
            agent_cls = AGENTS.load(str(algo))
        except LabError as e:
            raise ConfigError(f"parameters.algo: {e}") from None
        fields = agent_fields(agent_cls)
        for p in spec.params:
            if p.path in ("algo", "env"):
                continue
            key = canonical_key(p.path, agent_cls)
            head = key.split(".")[0]
            parts = key.split(".")
            ok = head in RUN_KEYS and (head != "agent" or (len(parts) > 1 and parts[1] in fields))
            if not ok:
                known = [*RUN_KEYS, *fields]
                hits = closest(p.path.split(".")[-1], known, n=1) or closest(p.path, known, n=1)
                hint = f"; did you mean {hits[0]!r}?" if hits else " (see `lab config ALGO ENV`)"
                raise ConfigError(f"parameters.{p.path}: not a config key of {algo}{hint}")
        sets = [as_set(p.path, _representative(p)) for p in spec.params]
        try:
            resolve_config(algo=str(algo), env=str(envs[0]), sets=sets)
        except LabError as e:
            raise ConfigError(f"parameters: {str(e).replace('--set ', '')}") from None
        for env in envs:  # what `lab train` checks before it starts: the env exists and the agent fits it
            try:
                cfg = resolve_config(algo=str(algo), env=str(env), sets=sets)
                check_config(cfg)
            except LabError as e:
                raise ConfigError(f"parameters.env: {e}") from None
            _check_budgets(spec, str(algo), str(env), agent_cls)


_MAX_CORNERS = 4096
"""At most this many combinations of extreme values are checked for a budget that makes no update."""


def _extremes(p: Any) -> list[Any]:
    """The values of ``p`` that decide whether a trial can make an update: all of a list, a range's ends."""
    if p.values:
        return list(dict.fromkeys(p.values))
    if p.low is not None and p.high is not None:
        lo, hi = (math.exp(p.low), math.exp(p.high)) if p.distribution in ("log_uniform", "q_log_uniform") else (p.low, p.high)
        if p.distribution.startswith("int") or p.distribution.startswith("q_"):
            lo, hi = math.ceil(lo), math.floor(hi)
        return [lo, hi]
    return [p.mu]


def _check_budgets(spec: SweepSpec, algo: str, env: str, agent_cls: type) -> None:
    """Refuse a sweep in which some trial (a grid point, an end of a sampled range) would make no update."""
    from lab.agent import ChecksBudget
    from lab.training import resolve_config

    if not isinstance(agent_cls, ChecksBudget):
        return
    searched = [p for p in spec.params if p.path not in ("algo", "env")]
    fixed = [as_set(p.path, _representative(p)) for p in searched if p.fixed]
    varied = [p for p in searched if not p.fixed]
    corners = list(itertools.islice(itertools.product(*(_extremes(p) for p in varied)), _MAX_CORNERS))
    for corner in corners:
        sets = fixed + [as_set(p.path, _plain(v)) for p, v in zip(varied, corner)]
        try:
            cfg = resolve_config(algo=algo, env=env, sets=sets)
        except LabError:
            continue  # a value the sampler cannot produce for this type; the representative check covers types
        reason = agent_cls.check_budget(cfg.agent, cfg.steps)
        if reason is not None:
            which = ", ".join(f"{p.path}={_plain(v)}" for p, v in zip(varied, corner))
            where = f"the trials with {which}" if which else "every trial"
            raise ConfigError(f"parameters: {where} would make no update: {reason}")


def _plain(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _representative(p: Any) -> Any:
    if p.values:
        return p.values[0]
    if p.low is not None:
        return int(p.low) if p.distribution == "int_uniform" else max(p.low, 1e-12) if "log" in p.distribution else p.low
    return p.mu


def check_sweep(path: str | os.PathLike) -> SweepSpec:
    """Validate a sweep file (``lab sweep --check``) and return it."""
    from lab.paths import folder_name

    spec = load_spec(path)
    try:
        folder_name("name", spec.name)
        if spec.program is None:
            check_train_params(spec)
        else:
            program_path(spec, Path(path))
    except ConfigError as e:
        raise ConfigError(locate(path, spec.lines, str(e))) from None
    return spec


def program_path(spec: SweepSpec, sweep_file: Path) -> Path:
    prog = Path(str(spec.program))
    for cand in (prog, sweep_file.parent / prog):
        if cand.exists():
            return cand.resolve()
    raise ConfigError(f"program: {spec.program!r} not found (looked in . and {sweep_file.parent})")
