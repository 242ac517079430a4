"""``lab train``'s config: :class:`TrainConfig` and its resolution from layers.

Layers, later wins: the agent's ``Config`` defaults < its tuned values for the env, or instead
``--hyperparams`` (an rl-baselines3-zoo file's entry, over the plain defaults as rl_zoo3 passes it to
SB3) < ``--config FILE`` < command-line flags < ``--set``. :func:`resolve_config` can report which
layer each key came from (``lab config`` prints it; a run's ``config.yaml`` records it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from lab.agent import ReadsZooHyperparams
from lab.config import Provenance, apply_sets, deep_merge, from_dict, load_yaml, parse_set, to_dict
from lab.envs import EnvInfo, family_name, import_packages, is_atari, resolve_env
from lab.errors import ConfigError, LabError, closest, unknown_name
from lab.registry import AGENTS, ENVS, GENERATORS
from lab.training.tracking import WandbConfig

__all__ = ["TrainConfig", "RUN_KEYS", "agent_fields", "canonical_key", "resolve_config", "config_env",
           "trainable_class", "is_generator"]


@dataclass
class TrainConfig:
    """One training run: what to train, on what, for how long, and where results go."""

    algo: str
    """Agent or generator name (see `lab list agents`, `lab list generators`)."""
    env: str
    """Environment (a Gymnasium id, a lab environment or env family id, or module:Class) or, for a generator, a data set (`lab list datasets`)."""
    env_options: dict[str, Any] = field(default_factory=dict)
    """Options of an env family's environments (`--set env.view=5` for mazes); other envs take none."""
    eval_env_options: dict[str, Any] = field(default_factory=dict)
    """Env options laid over env_options for evaluation episodes (`--set eval_env.levels=held-out`)."""
    steps: int | None = None
    """Environment steps (generators: optimizer steps) to train for; null: the tuned budget."""
    seed: int = 0
    """Seed for the agent, the environments and evaluation."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Torch device; auto picks CUDA when it is available."""
    threads: int | None = None
    """Torch CPU threads; null: the agent's default (tuned per algorithm on 2-core machines)."""
    checkpoint_every: int | None = None
    """Steps between checkpoints; null: a tenth of the budget; 0: only at the end."""
    keep_checkpoints: int = 3
    """How many of the latest checkpoints to keep."""
    eval_every: int = 0
    """Steps between evaluations during training; 0: only the final evaluation."""
    eval_episodes: int = 10
    """Episodes per evaluation (deterministic policy, seeds distinct from training)."""
    track: bool = True
    """Log to Weights & Biases (offline when no API key is configured)."""
    wandb: WandbConfig = field(default_factory=WandbConfig)
    """W&B project, group and tags."""
    tensorboard: bool = False
    """Also write TensorBoard scalars under RUN/tb/ (needs the tensorboard package)."""
    gym_packages: list[str] = field(default_factory=list)
    """env.packages: modules imported before the env is looked up (they register its id), as the zoo's --gym-packages.

    Written `env: {id: ENV, packages: [PKG]}` in a config file, `--set env.packages=PKG` on the command line."""
    env_wrapper: list[Any] = field(default_factory=list)
    """Gymnasium wrappers, as the zoo writes them: module.Class or {module.Class: {keyword: value}}."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for gymnasium.make (the zoo's env_kwargs)."""
    agent: Any = None
    """The agent's (or generator's) hyperparameters: its Config dataclass, chosen by `algo`."""

    def __post_init__(self) -> None:
        for name in ("steps", "eval_episodes", "keep_checkpoints", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name}: expected a positive number, got {value}")
        for name in ("checkpoint_every", "eval_every"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{name}: expected 0 or a positive number, got {value}")


RUN_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig))


def _tuned_as(env: str) -> str:
    """The id whose tuned hyperparameters ``env`` uses: an env family's ``tuned_as(env_id)`` (a learned world model
    of CartPole-v1 takes CartPole-v1's), else ``env`` itself."""
    from lab.envs import family_name

    family = family_name(env)
    if family is not None and family in ENVS:
        tuned_as = getattr(ENVS.load(family), "tuned_as", None)
        if tuned_as is not None:
            return str(tuned_as(env))
    return env


def is_generator(algo: str) -> bool:
    """Whether ``algo`` names a generator (``lab.generators``) rather than an agent."""
    return algo in GENERATORS and algo not in AGENTS


def trainable_class(algo: str) -> type:
    """The agent or generator class registered as ``algo``; an unknown name suggests the closest of both."""
    if algo in AGENTS and algo in GENERATORS:
        raise LabError(f"{algo!r} is registered both as an agent and as a generator; rename one of them")
    if algo in GENERATORS:
        return GENERATORS.load(algo)
    if algo in AGENTS:
        return AGENTS.load(algo)
    raise unknown_name("agent or generator", algo, [*AGENTS.names(), *GENERATORS.names()])


def agent_fields(agent_cls: type) -> list[str]:
    """The keys of the agent's ``Config`` (``agent.<key>`` in a config file)."""
    return [f.name for f in dataclasses.fields(agent_cls.Config) if f.init]


def canonical_key(key: str, agent_cls: type) -> str:
    """``learning_rate`` -> ``agent.learning_rate`` when it is an agent field and not a run field."""
    head = key.split(".")[0]
    if head not in RUN_KEYS and head in agent_fields(agent_cls):
        return "agent." + key
    return key


def _pick(name: str, cli: str | None, sets: list[tuple[tuple[str, ...], Any]], file_data: dict) -> str | None:
    for path, value in reversed(sets):
        if path == (name,):
            return str(value)
    if cli:
        return cli
    value = file_data.get(name)
    return str(value) if value is not None else None


def _zoo_layer(path: str, algo: str, env: str, agent_cls: type, notes: list[str]) -> tuple[dict, Provenance]:
    if not isinstance(agent_cls, ReadsZooHyperparams):
        raise ConfigError(f"--hyperparams: {algo} does not read rl-baselines3-zoo hyperparameter files")
    lines: Provenance = {}
    data = load_yaml(path, lines)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of environment ids to hyperparameters")
    gym_id = env.partition(":")[2] if ":" in env and not _is_family_id(env) else env
    key = next((k for k in (env, gym_id) if k in data), None)
    if key is None and "atari" in data and is_atari(gym_id):
        key = "atari"
    if key is None and "default" in data:  # rl_zoo3's fallback for ids the file does not list
        key = "default"
        notes.append(f"{path}: no entry for {env!r}: using its 'default' entry, as rl_zoo3 does")
    if key is None:
        hits = closest(env, [str(k) for k in data], n=1)
        hint = f"; did you mean {hits[0]!r}?" if hits else f"; it has: {', '.join(map(str, list(data)[:8]))}"
        raise ConfigError(f"{path}: no entry for {env!r}{hint}")
    entry = data[key]
    if not isinstance(entry, dict):
        raise ConfigError(f"{lines.get((key,), path)}: {key}: expected a mapping of hyperparameters, got {entry!r}")
    where = lines.get((key,), path)
    try:
        layer, ignored = agent_cls.from_zoo(entry, where=where)
    except ConfigError as e:  # name the line of the key at fault, not the entry's
        text = str(e)
        bad = next((k for k in entry if text.startswith(f"{where}: {k}: ")), None)
        if bad is None:
            raise
        raise ConfigError(lines.get((key, str(bad)), where) + text[len(where):]) from None
    if ignored:
        notes.append(f"{where}: {key}: keys not understood, not used: {', '.join(sorted(ignored))}")
    # each value's own line (a type error in it, found later against the Config, names that line) and the entry
    zoo_name = {"steps": "n_timesteps", "lr_schedule": "learning_rate", "clip_range_schedule": "clip_range",
                "normalize_reward": "normalize", "action_noise": "noise_type", "action_noise_std": "noise_std"}
    line = lambda k: f"{lines.get((key, zoo_name.get(k, k)), where)} ({key})"  # noqa: E731
    prov = {(k,): line(k) for k in layer if k != "agent"}
    prov.update({("agent", k): line(k) for k in layer.get("agent", {})})
    return layer, prov


def resolve_config(
    *,
    algo: str | None = None,
    env: str | None = None,
    config_file: str | None = None,
    hyperparams: str | None = None,
    sets: Sequence[str] = (),
    flags: dict[str, Any] | None = None,
    agent_flags: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    sources: dict[str, str] | None = None,
) -> TrainConfig:
    """Merge the config layers into a validated :class:`TrainConfig`.

    Args:
        algo, env: positional arguments of ``lab train`` (override the config file's).
        config_file: ``--config`` YAML (a saved ``config.yaml`` reproduces its run).
        hyperparams: ``--hyperparams``: an rl-baselines3-zoo YAML; the entry for ``env`` is used.
        sets: ``--set key=value`` items; a bare agent key (``learning_rate``) means ``agent.learning_rate``.
        flags: run-level command-line options (``steps``, ``seed``, ...); None values are ignored.
        agent_flags: options that set agent fields (``n_envs``, ``minutes``, ...); an agent without
            that field is an error.
        notes: receives remarks for the user (e.g. hyperparameters that were not understood).
        sources: receives, per dotted key of the result, the layer it came from (``default``, the
            zoo file's ``file:line (entry)``, ``lab tuned``, the config file's ``file:line``, ``--set ...``).

    Raises:
        ConfigError: unknown keys (with the closest known key), wrong types (with file and line).
        UnknownNameError: unknown algorithm.
    """
    notes = notes if notes is not None else []
    prov: Provenance = {}
    file_data: dict = {}
    if config_file:
        loaded = load_yaml(config_file, prov)
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{config_file}: expected a mapping of config keys, got {type(loaded).__name__}")
        file_data = _env_mapping(loaded or {}, prov, config_file)
    parsed_sets = [parse_set(s) for s in sets]
    for name, given in (("algo", algo), ("env", env)):
        if given:
            prov[(name,)] = "command line"
    algo = _pick("algo", algo, parsed_sets, file_data)
    env = _pick("env", env, parsed_sets, file_data)
    if not algo:
        raise ConfigError("no algorithm given: use `lab train ALGO ENV` (see `lab list agents`) or --config FILE")
    if not env:
        what = "data set given: use `lab train GENERATOR DATASET` (see `lab list datasets`)" if is_generator(algo) \
            else "environment given: use `lab train ALGO ENV` (see `lab list envs`)"
        raise ConfigError(f"no {what} or --config FILE")
    agent_cls = trainable_class(algo)

    set_packages = [v for path, v in parsed_sets if path in (("env", "packages"), ("gym_packages",))]
    packages = (set_packages[-1] if set_packages else None) or (flags or {}).get("gym_packages") \
        or file_data.get("gym_packages") or []
    packages = [packages] if isinstance(packages, str) else packages
    if isinstance(packages, list):
        import_packages([str(p) for p in packages])  # they register the ids the tuned values are looked up by
    if (
        ":" in env and not env.partition(":")[2].isidentifier()
        and not is_generator(algo)  # not folder:PATH
        and not _is_family_id(env)  # not maze-9:file:levels.txt
    ):
        import_packages([env.partition(":")[0]], where=f"environment {env!r}:")
    data: dict[str, Any] = {"agent": {}}
    if hyperparams:  # the zoo's configuration: its entry over the agent's plain defaults, not the lab's tuned values
        layer, zoo_prov = _zoo_layer(hyperparams, algo, env, agent_cls, notes)
        data = deep_merge(data, layer)
        prov.update({k: v for k, v in zoo_prov.items() if k not in prov})
    else:
        with_sources = getattr(agent_cls, "tuned_with_sources", None)
        tuned_env = _tuned_as(env)  # an env that stands in for another (world:RUN_DIR) takes that one's values
        tuned, tuned_from = with_sources(tuned_env) if with_sources else (dict(agent_cls.tuned(tuned_env)), {})
        for k, v in tuned.items():
            if k in RUN_KEYS:
                data[k] = v
            else:
                data["agent"][k] = v
            prov.setdefault((k,) if k in RUN_KEYS else ("agent", k), tuned_from.get(k, "tuned"))
    data = deep_merge(data, file_data)
    data["algo"], data["env"] = algo, env
    for name, value in (flags or {}).items():
        if value is not None:
            data[name] = value
            prov[(name,)] = f"--{name.replace('_', '-')} {value}"
    agent_keys = agent_fields(agent_cls)
    for name, value in (agent_flags or {}).items():
        if value is None:
            continue
        if name not in agent_keys:
            raise ConfigError(f"--{name.replace('_', '-')} does not apply to {algo} (it has no {name!r} setting)")
        data["agent"][name] = value
        prov[("agent", name)] = f"--{name.replace('_', '-')} {value}"
    canonical = []
    for item in sets:
        key, _, value = item.partition("=")
        key = canonical_key(key.strip(), agent_cls)
        if key == ENV_PACKAGES_KEY:
            key = "gym_packages"
        for short in ("env", "eval_env"):  # --set env.view=5: an option of the environment
            if key.startswith(short + "."):
                key = f"{short}_options.{key[len(short) + 1:]}"
        head = key.split(".")[0]
        if head not in RUN_KEYS:
            known = [*RUN_KEYS, *agent_keys, *(f"agent.{k}" for k in agent_keys)]
            hits = closest(head, known, n=1)
            hint = f"; did you mean {canonical_key(hits[0], agent_cls)!r}?" if hits else " (see `lab config ALGO ENV`)"
            raise ConfigError(f"--set {item}: unknown key {key!r}{hint}")
        canonical.append(f"{key}={value}")
    apply_sets(data, canonical, prov)
    if isinstance(data.get("gym_packages"), str):  # --set env.packages=minigrid: one package
        data["gym_packages"] = [data["gym_packages"]]
    for path, value in parsed_sets:  # keep the --set spelling the user typed in messages
        full = tuple(canonical_key(".".join(path), agent_cls).split("."))
        if full == ("env", "packages"):
            full = ("gym_packages",)
        elif full[0] in ("env", "eval_env") and len(full) > 1:
            full = (f"{full[0]}_options", *full[1:])
        if full != path:
            prov[full] = f"--set {'.'.join(path)}={value}"
    cfg = from_dict(TrainConfig, data, provenance=prov, field_types={("agent",): agent_cls.Config})
    if sources is not None:
        sources.update(_sources(to_dict(cfg), prov))
    return cfg


ENV_PACKAGES_KEY = "env.packages"
"""The documented key of ``gym_packages`` (``--gym-packages``): ``env: {id: ENV, packages: [PKG]}`` in a file."""


def _env_mapping(data: dict, prov: Provenance, where: str) -> dict:
    """A config file's ``env: {id: ENV, packages: [PKG]}`` as the flat keys ``env`` and ``gym_packages``.

    ``gym_packages: [PKG]`` (the key's name before ``env.packages``) is read too, but not both at once.
    """
    env = data.get("env")
    if not isinstance(env, dict):
        return data
    line = prov.get(("env",), where)
    unknown = [str(k) for k in env if k not in ("id", "packages")]
    if unknown:
        bad = unknown[0]
        hits = closest(bad, ["id", "packages"], n=1)
        hint = f"; did you mean 'env.{hits[0]}'?" if hits else ""
        raise ConfigError(f"{prov.get(('env', bad), line)}: unknown key 'env.{bad}' (env takes id and packages){hint}")
    if "packages" in env and "gym_packages" in data:
        raise ConfigError(f"{prov.get(('gym_packages',), where)}: gym_packages and env.packages "
                          f"({prov.get(('env', 'packages'), line)}) name the same setting; keep env.packages")
    out = {k: v for k, v in data.items() if k != "env"}
    if "id" in env:
        out["env"] = env["id"]
        prov[("env",)] = prov.get(("env", "id"), line)
    if "packages" in env:
        packages = env["packages"]
        out["gym_packages"] = [packages] if isinstance(packages, str) else packages
        prov[("gym_packages",)] = prov.get(("env", "packages"), line)
    return out


def _is_family_id(env_id: str) -> bool:
    """Whether ``env_id`` is an id of a registered env family (``maze-9:file:levels.txt``), not ``module:EnvId``."""
    family = family_name(env_id)
    return family is not None and family in ENVS


def _sources(data: dict, prov: Provenance, prefix: tuple[str, ...] = ()) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, dict) and value and path != ("agent", "policy_kwargs") and path[:1] != ("env_kwargs",):
            out.update(_sources(value, prov, path))
            continue
        origin = next((prov[path[:n]] for n in range(len(path), 0, -1) if path[:n] in prov), "default")
        out[".".join(path)] = origin
    return out


def config_env(cfg: TrainConfig, env_id: str | None = None, eval_options: dict[str, Any] | None = None) -> EnvInfo:
    """The config's environment, with its packages imported, its wrappers applied and, for an env family,
    its env options (``eval_env_options`` for evaluation episodes, or ``eval_options`` when given).

    ``env_id`` resolves another id with the same settings (``lab eval --env``).
    """
    return resolve_env(
        env_id or cfg.env,
        cfg.env_options,
        cfg.eval_env_options if eval_options is None else eval_options,
        packages=cfg.gym_packages,
        wrappers=cfg.env_wrapper or None,
        kwargs=cfg.env_kwargs,
    )
