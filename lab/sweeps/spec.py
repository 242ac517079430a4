"""W&B sweep configuration files: parse, validate, describe, and sample their parameters on Optuna.

The format is W&B's (https://docs.wandb.ai/guides/sweeps/sweep-config-keys): ``method``, ``metric``,
``parameters``, ``early_terminate``, ``run_cap``, ``name``, ``project``, ``program``, ``command``.
Every problem raises :class:`ConfigError` naming the key path, e.g.
``parameters.lr.distribution: 'log_uniformm' is not a W&B distribution; did you mean 'log_uniform'?``

Sampling: distributions Optuna has natively (uniform, int, log) are suggested as such, so TPE models
them; the others (normal, log_normal, values with probabilities, ...) are suggested as a uniform
quantile ``u`` in (0, 1) and mapped through their inverse CDF, which keeps their W&B distribution under
random sampling and still lets TPE learn which quantiles do well.

>>> spec = parse_spec({"method": "random", "metric": {"name": "eval/mean_return", "goal": "maximize"},
...                    "parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2}}})
>>> spec.params[0].describe()
'lr: log_uniform_values in [0.0001, 0.01]'
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.config import load_yaml
from lab.errors import ConfigError, closest

__all__ = ["SweepSpec", "Param", "EarlyTerminate", "parse_spec", "load_spec", "METHODS", "DISTRIBUTIONS"]

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")
DISTRIBUTIONS = (
    "constant", "categorical", "int_uniform", "uniform", "q_uniform", "log_uniform", "log_uniform_values",
    "q_log_uniform", "q_log_uniform_values", "inv_log_uniform", "inv_log_uniform_values", "normal", "q_normal",
    "log_normal", "q_log_normal", "beta", "q_beta",
)
TOP_KEYS = ("method", "metric", "parameters", "early_terminate", "run_cap", "name", "project", "entity",
            "program", "command", "description")
PARAM_KEYS = ("value", "values", "probabilities", "distribution", "min", "max", "mu", "sigma", "q", "a", "b",
              "parameters")
_EPS = 1e-6


def _suggest(key: str, choices: tuple[str, ...], what: str, value: Any) -> str:
    hits = closest(str(value), choices, n=1)
    hint = f"; did you mean {hits[0]!r}?" if hits else f"; expected one of: {', '.join(choices)}"
    return f"{key}: {value!r} is not {what}{hint}"


@dataclass(frozen=True)
class Param:
    """One searched (or fixed) parameter: ``path`` is the dotted config key (nested parameters joined)."""

    path: str
    distribution: str
    values: tuple[Any, ...] = ()
    probabilities: tuple[float, ...] = ()
    low: float | None = None
    high: float | None = None
    mu: float = 0.0
    sigma: float = 1.0
    q: float = 1.0
    a: float = 1.0
    b: float = 1.0

    @property
    def fixed(self) -> bool:
        return self.distribution == "constant"

    @property
    def discrete(self) -> bool:
        return self.distribution in ("constant", "categorical")

    def describe(self) -> str:
        d = self.distribution
        if d == "constant":
            return f"{self.path}: {self.values[0]!r} (fixed)"
        if d == "categorical":
            items = ", ".join(repr(v) for v in self.values)
            if self.probabilities:
                items = ", ".join(f"{v!r} p={p:g}" for v, p in zip(self.values, self.probabilities))
            return f"{self.path}: one of [{items}]"
        if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
            tail = f", q={self.q:g}" if d.startswith("q_") else ""
            return f"{self.path}: {d}(mu={self.mu:g}, sigma={self.sigma:g}{tail})"
        if d in ("beta", "q_beta"):
            return f"{self.path}: {d}(a={self.a:g}, b={self.b:g})"
        tail = f", q={self.q:g}" if d.startswith("q_") else ""
        return f"{self.path}: {d} in [{self.low:g}, {self.high:g}]{tail}"

    # -- sampling on an Optuna trial -----------------------------------------------------------------

    def sample(self, trial: Any) -> Any:
        """Suggest this parameter on an Optuna ``trial`` and return its W&B-distributed value."""
        d, name = self.distribution, self.path
        if d == "constant":
            return self.values[0]
        if d == "categorical":
            if self.probabilities:
                u = trial.suggest_float(name + "#u", _EPS, 1 - _EPS)
                acc = 0.0
                for v, p in zip(self.values, self.probabilities):
                    acc += p
                    if u <= acc:
                        return v
                return self.values[-1]
            return trial.suggest_categorical(name, list(self.values))
        if d == "int_uniform":
            return trial.suggest_int(name, int(self.low), int(self.high))
        if d == "uniform":
            return trial.suggest_float(name, self.low, self.high)
        if d == "q_uniform":
            return _quantize(trial.suggest_float(name, self.low, self.high), self.q)
        if d in ("log_uniform_values", "inv_log_uniform_values"):  # 1/X of a log-uniform X is log-uniform
            return trial.suggest_float(name, self.low, self.high, log=True)
        if d == "q_log_uniform_values":
            return _quantize(trial.suggest_float(name, self.low, self.high, log=True), self.q)
        if d == "log_uniform":  # min/max are natural-log exponents
            return trial.suggest_float(name, math.exp(self.low), math.exp(self.high), log=True)
        if d == "q_log_uniform":
            return _quantize(trial.suggest_float(name, math.exp(self.low), math.exp(self.high), log=True), self.q)
        if d == "inv_log_uniform":  # X = 1 / e^U, U uniform in [min, max]
            return trial.suggest_float(name, math.exp(-self.high), math.exp(-self.low), log=True)
        u = trial.suggest_float(name + "#u", _EPS, 1 - _EPS)
        return self.from_quantile(u)

    def from_quantile(self, u: float) -> Any:
        """The value at quantile ``u`` of a distribution Optuna lacks (normal, log_normal, beta, ...)."""
        d = self.distribution
        if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
            x = statistics.NormalDist(self.mu, self.sigma).inv_cdf(u)
            if "log_normal" in d:
                x = math.exp(x)
            return _quantize(x, self.q) if d.startswith("q_") else x
        if d in ("beta", "q_beta"):
            x = _beta_ppf(u, self.a, self.b)
            return _quantize(x, self.q) if d.startswith("q_") else x
        raise AssertionError(d)


def _quantize(x: float, q: float) -> float:
    value = round(x / q) * q
    return int(value) if float(q).is_integer() else value


def _beta_ppf(u: float, a: float, b: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(60):  # bisection on the regularized incomplete beta, by numeric integration
        mid = (lo + hi) / 2
        if _beta_cdf(mid, a, b) < u:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _beta_cdf(x: float, a: float, b: float, n: int = 400) -> float:
    def pdf(t: float) -> float:
        return t ** (a - 1) * (1 - t) ** (b - 1) if 0 < t < 1 else 0.0

    def integral(upper: float) -> float:
        h = upper / n
        return sum(pdf((i + 0.5) * h) for i in range(n)) * h

    total = integral(1.0)
    return integral(x) / total if total else 0.0


@dataclass(frozen=True)
class EarlyTerminate:
    """W&B hyperband: check at iterations ``min_iter * eta**k``; stop a trial in the bottom of its rung."""

    min_iter: int
    max_iter: int | None
    eta: float = 3.0
    s: int | None = None


@dataclass
class SweepSpec:
    """A parsed sweep file."""

    method: str
    metric: str | None
    """The metric to optimize; None for a grid or random sweep without one (W&B allows it): every trial
    runs, results.csv lists what each logged, and there is no best trial."""
    goal: str = "maximize"
    target: float | None = None
    params: list[Param] = field(default_factory=list)
    early_terminate: EarlyTerminate | None = None
    run_cap: int | None = None
    name: str = "sweep"
    project: str | None = None
    entity: str | None = None
    program: str | None = None
    command: list[str] | None = None
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    lines: dict[tuple[str, ...], str] = field(default_factory=dict)
    """``file:line`` of each key of the sweep file (for error messages)."""

    def grid_size(self) -> int:
        return math.prod(len(p.values) for p in self.params if not p.fixed)

    def describe(self) -> str:
        """The search space in a few lines (``lab sweep --check``)."""
        if self.metric is None:
            goal = "no metric (every trial runs; results.csv lists what each logged; no best.yaml)"
        else:
            goal = f"{self.goal} {self.metric}" + (f" (stop at {self.target:g})" if self.target is not None else "")
        lines = [f"sweep {self.name!r}: {self.method} search, {goal}"]
        if self.program:
            lines.append(f"program: {self.program}")
        for p in self.params:
            lines.append(f"  {p.describe()}")
        if self.method == "grid":
            lines.append(f"grid: {self.grid_size()} combinations")
        if self.early_terminate:
            et = self.early_terminate
            lines.append(f"early termination: hyperband, min_iter={et.min_iter}, eta={et.eta:g}"
                         + (f", max_iter={et.max_iter}" if et.max_iter else ""))
        if self.run_cap:
            lines.append(f"run_cap: {self.run_cap}")
        return "\n".join(lines)


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    return value


def _parse_param(path: str, spec: Any, key: str, method: str, out: list[Param]) -> None:
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{key}: expected a mapping such as {{values: [...]}} or {{min: .., max: ..}}, got {spec!r}")
    for k in spec:
        if k not in PARAM_KEYS:
            raise ConfigError(_suggest(f"{key}.{k}", PARAM_KEYS, "a W&B parameter key", k).replace(f": {k!r} is", " is", 1))
    if "parameters" in spec:
        nested = spec["parameters"]
        if not isinstance(nested, Mapping) or not nested:
            raise ConfigError(f"{key}.parameters: expected a mapping of nested parameters")
        for name, sub in nested.items():
            _parse_param(f"{path}.{name}", sub, f"{key}.parameters.{name}", method, out)
        return
    dist = spec.get("distribution")
    if dist is not None and dist not in DISTRIBUTIONS:
        raise ConfigError(_suggest(f"{key}.distribution", DISTRIBUTIONS, "a W&B distribution", dist))
    if "value" in spec:
        out.append(Param(path, "constant", (spec["value"],)))
        return
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{key}.values: expected a non-empty list, got {values!r}")
        probs: tuple[float, ...] = ()
        if "probabilities" in spec and method != "grid":  # a grid tries every value: weights do not apply
            p = spec["probabilities"]
            if not isinstance(p, list) or len(p) != len(values):
                raise ConfigError(f"{key}.probabilities: expected {len(values)} numbers (one per value), got {p!r}")
            probs = tuple(_number(f"{key}.probabilities", x) for x in p)
            if any(x < 0 for x in probs) or abs(sum(probs) - 1) > 1e-6:
                raise ConfigError(f"{key}.probabilities: expected non-negative numbers summing to 1, got {p!r}")
        if dist not in (None, "categorical"):
            raise ConfigError(f"{key}.distribution: {dist!r} does not take values; use categorical or min/max")
        out.append(Param(path, "categorical", tuple(values), probs))
        return
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        if method == "grid":
            raise ConfigError(f"{key}: a grid needs a list of values, not a {dist} distribution")
        mu = _number(f"{key}.mu", spec.get("mu", 0.0))
        sigma = _number(f"{key}.sigma", spec.get("sigma", 1.0))
        if sigma <= 0:
            raise ConfigError(f"{key}.sigma: expected a positive number, got {sigma}")
        out.append(Param(path, dist, mu=mu, sigma=sigma, q=_step(key, spec)))
        return
    if dist in ("beta", "q_beta"):
        if method == "grid":
            raise ConfigError(f"{key}: a grid needs a list of values, not a {dist} distribution")
        a, b = _number(f"{key}.a", spec.get("a", 1.0)), _number(f"{key}.b", spec.get("b", 1.0))
        for name, shape in (("a", a), ("b", b)):
            if shape <= 0:
                raise ConfigError(f"{key}.{name}: expected a positive number, got {shape}")
        out.append(Param(path, dist, a=a, b=b, q=_step(key, spec)))
        return
    if "min" not in spec or "max" not in spec:
        missing = "max" if "min" in spec else "min"
        raise ConfigError(f"{key}: needs value, values, or min and max ({missing} is missing)")
    low, high = _number(f"{key}.min", spec["min"]), _number(f"{key}.max", spec["max"])
    if low > high:
        raise ConfigError(f"{key}: min ({low:g}) is greater than max ({high:g})")
    if dist is None:
        dist = "int_uniform" if isinstance(low, int) and isinstance(high, int) else "uniform"
    if dist == "categorical":
        raise ConfigError(f"{key}.distribution: categorical needs values, not min/max")
    if dist == "constant":
        raise ConfigError(f"{key}.distribution: constant needs value, not min/max")
    if dist in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values") and low <= 0:
        raise ConfigError(f"{key}.min: {dist} needs min > 0, got {low:g}")
    if dist in ("log_uniform", "q_log_uniform", "inv_log_uniform") and max(abs(low), abs(high)) > 700:
        raise ConfigError(f"{key}: {dist} takes natural-log bounds; exp({max(abs(low), abs(high)):g}) overflows")
    if method == "grid":
        if dist == "int_uniform" and high - low < 1000:
            out.append(Param(path, "categorical", tuple(range(int(low), int(high) + 1))))
            return
        raise ConfigError(
            f"{key}: a grid cannot cover the continuous range [{low:g}, {high:g}] ({dist}); list values instead"
        )
    out.append(Param(path, dist, low=low, high=high, q=_step(key, spec)))


def _step(key: str, spec: Mapping[str, Any]) -> float:
    """The quantization step ``q`` (default 1), which must be positive."""
    q = _number(f"{key}.q", spec.get("q", 1.0))
    if q <= 0:
        raise ConfigError(f"{key}.q: expected a positive number, got {q}")
    return q


def parse_spec(data: Any, source: str = "sweep") -> SweepSpec:
    """Validate a sweep mapping (the YAML's content) into a :class:`SweepSpec`."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping with method, metric and parameters")
    for k in data:
        if k not in TOP_KEYS:
            hits = closest(str(k), TOP_KEYS, n=1)
            hint = f"; did you mean {hits[0]!r}?" if hits else f"; expected: {', '.join(TOP_KEYS)}"
            raise ConfigError(f"{k}: not a W&B sweep key{hint}")
    method = data.get("method")
    if method is None:
        raise ConfigError("method: missing; use grid, random or bayes")
    if method not in METHODS:
        raise ConfigError(_suggest("method", METHODS, "a W&B sweep method", method))
    metric = data.get("metric")
    if metric is None and method != "bayes" and data.get("early_terminate") is None:
        metric = {}  # W&B: grid and random sweeps need no metric; bayes and early termination do
    elif metric is None:
        needs = "bayes search needs the metric to optimize" if method == "bayes" else "early_terminate needs the metric to prune on"
        raise ConfigError(f"metric.name: missing; {needs}, e.g. eval/mean_return")
    elif not isinstance(metric, Mapping) or not metric.get("name"):
        raise ConfigError("metric.name: missing; name the metric to optimize, e.g. eval/mean_return")
    for k in metric:
        if k not in ("name", "goal", "target"):
            raise ConfigError(_suggest(f"metric.{k}", ("name", "goal", "target"), "a metric key", k)
                              .replace(f": {k!r} is", " is", 1))
    goal = metric.get("goal", "minimize")
    if goal not in GOALS:
        raise ConfigError(_suggest("metric.goal", GOALS, "a goal", goal))
    target = metric.get("target")
    if target is not None:
        target = _number("metric.target", target)
    params_raw = data.get("parameters")
    if not isinstance(params_raw, Mapping) or not params_raw:
        raise ConfigError("parameters: missing; give at least one parameter")
    params: list[Param] = []
    for name, spec in params_raw.items():
        _parse_param(str(name), spec, f"parameters.{name}", method, params)
    et = None
    if data.get("early_terminate") is not None:
        et = _parse_early(data["early_terminate"])
    run_cap = data.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or isinstance(run_cap, bool) or run_cap < 1):
        raise ConfigError(f"run_cap: expected a positive whole number, got {run_cap!r}")
    command = data.get("command")
    if command is not None and (not isinstance(command, list) or not all(isinstance(c, str) for c in command)):
        raise ConfigError(f"command: expected a list of strings such as ['${{env}}', 'python', '${{program}}', "
                          f"'${{args}}'], got {command!r}")
    name = data.get("name") or Path(source).stem or "sweep"
    return SweepSpec(
        method=method, metric=str(metric["name"]) if metric else None, goal=goal, target=target, params=params, early_terminate=et,
        run_cap=run_cap, name=str(name), project=data.get("project"), entity=data.get("entity"),
        program=data.get("program"), command=command, source=source, raw=dict(data),
    )


def _parse_early(et: Any) -> EarlyTerminate:
    if not isinstance(et, Mapping):
        raise ConfigError(f"early_terminate: expected a mapping such as {{type: hyperband, min_iter: 3}}, got {et!r}")
    kind = et.get("type")
    if kind != "hyperband":
        raise ConfigError(_suggest("early_terminate.type", ("hyperband",), "a W&B early termination type", kind))
    for k in et:
        if k not in ("type", "min_iter", "max_iter", "s", "eta", "strict"):
            raise ConfigError(_suggest(f"early_terminate.{k}", ("min_iter", "max_iter", "s", "eta"), "a hyperband key",
                                       k).replace(f": {k!r} is", " is", 1))
    eta = _number("early_terminate.eta", et.get("eta", 3))
    if eta <= 1:
        raise ConfigError(f"early_terminate.eta: expected a number above 1, got {eta}")
    min_iter, max_iter, s = et.get("min_iter"), et.get("max_iter"), et.get("s")
    for k, v in (("min_iter", min_iter), ("max_iter", max_iter), ("s", s)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ConfigError(f"early_terminate.{k}: expected a positive whole number, got {v!r}")
    if min_iter is None:
        if max_iter is None or s is None:
            raise ConfigError("early_terminate: hyperband needs min_iter, or max_iter with s")
        min_iter = max(1, int(max_iter / eta**s))  # W&B: brackets at max_iter / eta^k, k = s .. 1
    if max_iter is not None and max_iter < min_iter:
        raise ConfigError(f"early_terminate: min_iter ({min_iter}) is greater than max_iter ({max_iter})")
    return EarlyTerminate(min_iter=min_iter, max_iter=max_iter, eta=eta, s=s)


def locate(path: str | os.PathLike, lines: dict[tuple[str, ...], str], message: str) -> str:
    """``file:line: message`` for a message that starts with a key path of the file (``parameters.lr.min: ...``).

    The line is that of the longest key path of the file the message's key path starts with (parameter
    names may hold dots); a message about a missing key names the file only.

    >>> locate("s.yaml", {("parameters",): "s.yaml:3", ("parameters", "agent.lr"): "s.yaml:4"},
    ...        "parameters.agent.lr.min: expected a number")
    's.yaml:4: parameters.agent.lr.min: expected a number'
    """
    head = message.split(":", 1)[0].split(" ", 1)[0]
    best: tuple[str, ...] = ()
    for keys in lines:
        dotted = ".".join(keys)
        if (head == dotted or head.startswith(dotted + ".")) and len(dotted) > len(".".join(best)):
            best = keys
    return f"{lines[best]}: {message}" if best else f"{path}: {message}"


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep YAML file (errors name the file, the line and the key path)."""
    lines: dict[tuple[str, ...], str] = {}
    data = load_yaml(path, lines)
    try:
        spec = parse_spec(data, str(path))
    except ConfigError as e:
        raise ConfigError(locate(path, lines, str(e))) from None
    spec.lines = lines
    return spec
