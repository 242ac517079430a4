"""Read rl-baselines3-zoo hyperparameter entries into lab config keys, reporting what is not understood.

The zoo writes schedules as strings (``lin_0.001``), ``policy_kwargs`` as Python source
(``dict(net_arch=[64, 64], activation_fn=nn.ReLU)``) and ``normalize`` as a bool or a dict string.
The source is parsed with :mod:`ast` and only literals (and a few known class names, stored as
``"module:Class"`` strings) are accepted: nothing is executed.

:func:`find_entry` picks a file's entry for an environment as rl_zoo3 does: the id itself, else
``atari`` for Atari ids, else ``default``.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Any

from lab.errors import ConfigError

__all__ = ["from_zoo", "parse_policy_kwargs", "find_entry", "CLASSES"]

_ACTIVATIONS = {
    "Tanh": "tanh",
    "ReLU": "relu",
    "ELU": "elu",
    "LeakyReLU": "leaky_relu",
    "GELU": "gelu",
    "SiLU": "silu",
}
CLASSES = {
    "RMSpropTFLike": "stable_baselines3.common.sb2_compat.rmsprop_tf_like:RMSpropTFLike",
    "Adam": "torch.optim:Adam",
    "AdamW": "torch.optim:AdamW",
    "RMSprop": "torch.optim:RMSprop",
    "SGD": "torch.optim:SGD",
}
"""Class names the zoo's files use in policy_kwargs (optimizer_class=...), as importable targets."""


class _Unsupported(Exception):
    pass


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords}
    if isinstance(node, ast.Attribute) and node.attr in _ACTIVATIONS:
        return ("activation", _ACTIVATIONS[node.attr])
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
    if name in CLASSES:
        return CLASSES[name]
    raise _Unsupported(ast.unparse(node))


def parse_policy_kwargs(text: str | dict, where: str = "policy_kwargs") -> tuple[dict[str, Any], list[str]]:
    """``dict(net_arch=[64, 64], activation_fn=nn.ReLU)`` -> ``{net_arch: [64, 64], activation: relu}``.

    Returns the understood keys and the names of the ones that are not literals (e.g. optimizer_class).
    """
    if isinstance(text, dict):
        tree_items = text.items()
        parsed: dict[str, Any] = dict(tree_items)
        unsupported: list[str] = []
    else:
        try:
            node = ast.parse(str(text).strip(), mode="eval").body
        except SyntaxError as e:
            raise ConfigError(f"{where}: policy_kwargs is not valid Python: {e.msg}") from None
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict"):
            raise ConfigError(f"{where}: policy_kwargs: expected dict(...), got {text!r}")
        parsed, unsupported = {}, []
        for kw in node.keywords:
            try:
                parsed[kw.arg] = _literal(kw.value)
            except _Unsupported:
                unsupported.append(f"policy_kwargs.{kw.arg}")
    out: dict[str, Any] = {}
    for key, value in parsed.items():
        if key == "activation_fn":
            if isinstance(value, tuple) and value[0] == "activation":
                out["activation"] = value[1]
            else:
                unsupported.append("policy_kwargs.activation_fn")
        elif key == "net_arch":
            if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
                value = value[0]  # SB3 < 1.8 wrote [dict(pi=..., vf=...)]
            out["net_arch"] = value
        else:
            out.setdefault("policy_kwargs", {})[key] = value
    return out, unsupported


def _schedule(value: Any) -> tuple[float, str]:
    if isinstance(value, str) and value.startswith("lin_"):
        return float(value[4:]), "linear"
    if isinstance(value, str):
        return float(value), "constant"
    return float(value), "constant"


def from_zoo(config_cls: type, entry: dict[str, Any], where: str = "") -> tuple[dict[str, Any], list[str]]:
    """Translate one zoo entry into ``{"steps": ..., "agent": {...}}`` and the keys left unused."""
    fields = {f.name for f in dataclasses.fields(config_cls)}
    agent: dict[str, Any] = {}
    layer: dict[str, Any] = {"agent": agent}
    ignored: list[str] = []
    for key, value in entry.items():
        try:
            if key == "n_timesteps":
                layer["steps"] = int(float(value))
            elif key == "learning_rate":
                agent["learning_rate"], agent["lr_schedule"] = _schedule(value)
            elif key == "clip_range" and "clip_range_schedule" in fields:
                agent["clip_range"], agent["clip_range_schedule"] = _schedule(value)
            elif key == "normalize":
                if isinstance(value, str):
                    value = ast.literal_eval(value)
                if isinstance(value, dict):
                    agent["normalize"] = bool(value.get("norm_obs", True))
                    agent["normalize_reward"] = bool(value.get("norm_reward", True))
                    extra = set(value) - {"norm_obs", "norm_reward"}
                    ignored.extend(f"normalize.{k}" for k in sorted(extra))
                else:
                    agent["normalize"] = agent["normalize_reward"] = bool(value)
            elif key == "policy_kwargs":
                parsed, unsupported = parse_policy_kwargs(value, where)
                agent.update({k: v for k, v in parsed.items() if k != "policy_kwargs"})
                agent.setdefault("policy_kwargs", {}).update(parsed.get("policy_kwargs", {}))
                ignored.extend(unsupported)
            elif key == "env_wrapper":
                layer["env_wrapper"] = value if isinstance(value, list) else [value]
            elif key == "env_kwargs":
                layer["env_kwargs"] = ast.literal_eval(value) if isinstance(value, str) else dict(value)
            elif key == "noise_type" and "action_noise" in fields:
                agent["action_noise"] = {"normal": "normal", "ornstein-uhlenbeck": "ornstein-uhlenbeck"}.get(value, value)
            elif key == "noise_std" and "action_noise_std" in fields:
                agent["action_noise_std"] = float(value)
            elif key in fields:
                agent[key] = value
            else:
                ignored.append(key)
        except (ValueError, SyntaxError) as e:
            raise ConfigError(f"{where}: {key}: cannot read {value!r} ({e})") from None
    if agent.get("policy_kwargs") == {}:
        del agent["policy_kwargs"]
    return layer, ignored


def find_entry(data: dict[str, Any], env_id: str, atari: bool) -> str | None:
    """The key of ``data``'s entry for ``env_id`` (rl_zoo3's order: the id, ``atari``, ``default``)."""
    gym_id = env_id.partition(":")[2] if ":" in env_id else env_id
    for key in (env_id, gym_id):
        if key in data:
            return key
    if atari and "atari" in data:
        return "atari"
    return "default" if "default" in data else None
