"""``lab eval``: load a run's final model (or its latest checkpoint) and evaluate it deterministically."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from lab.agent import MeasuresEpisodes, RendersEpisodes
from lab.device import resolve_device
from lab import locks
from lab.errors import LabError, warn
from lab.limits import check_int, check_seed
from lab.evaluation import EVAL_SEED_OFFSET, eval_event, evaluate_agent, write_eval_json
from lab.events import EvalCompleted
from lab.registry import AGENTS
from lab.runs import RunDir
from lab.training.config import config_env, resolve_config

__all__ = ["evaluate_run"]


def evaluate_run(
    run_dir: str,
    *,
    episodes: int = 10,
    video: bool = False,
    device: str = "auto",
    seed: int | None = None,
    env_id: str | None = None,
    levels: str | None = None,
) -> tuple[EvalCompleted, dict[str, Any]]:
    """Evaluate a run's model; write ``eval.json`` (and ``episode.gif``/``.mp4`` with ``video``).

    Args:
        env_id: evaluate on this environment instead of the run's (same spaces), e.g. a model trained on
            generated mazes on ``maze-13:procedural``; the run's env options apply to it.
        levels: the ``levels`` env option of evaluation episodes (``held-out`` for mazes).

    Returns the evaluation event and a dict of extra facts (step, which file was loaded, the seed, the
    video path, and where the env says what a success is, the success rate; the mean episode length).
    """
    if episodes < 1:
        raise LabError(f"--episodes: expected a positive number, got {episodes}")
    check_int("--episodes", episodes, low=1, high=10**7)
    if seed is not None:
        check_seed("--seed", seed)
    run = RunDir.open(run_dir)
    torch_device = resolve_device(device)
    cfg = resolve_config(config_file=str(run.config_path))
    checkpoint = run.load_agent(algo=cfg.algo, expected_by=str(run.config_path))
    if checkpoint.path != run.model_path:
        warn(f"{run.path} has no {run.model_path.name} (the run has not finished): "
             f"evaluating its latest checkpoint, {checkpoint.path.relative_to(run.path)} (step {checkpoint.step:,})")
    eval_options = dict(cfg.eval_env_options)
    if levels is not None:
        eval_options["levels"] = levels
    env = config_env(cfg, env_id, eval_options)
    if env_id is not None and env_id != cfg.env:
        own = config_env(cfg, eval_options={})
        for what in ("observation_space", "action_space"):
            if getattr(own, what) != getattr(env, what):
                raise LabError(
                    f"--env {env_id}: its {what.replace('_', ' ')} {getattr(env, what)} differs from "
                    f"{getattr(own, what)} of the run's environment {cfg.env}"
                )
    agent = AGENTS.load(cfg.algo)(cfg.agent, env, seed=cfg.seed, device=torch_device)
    agent.load_state_dict(checkpoint.agent)
    eval_seed = check_seed("--seed", (cfg.seed if seed is None else seed) + EVAL_SEED_OFFSET)
    lengths: list[int] | None = None
    if isinstance(agent, MeasuresEpisodes):
        t0 = time.perf_counter()
        returns, lengths = agent.evaluate_episodes(episodes, seed=eval_seed)
        event = eval_event(checkpoint.step, returns, time.perf_counter() - t0)
    else:
        event = evaluate_agent(agent, episodes, eval_seed, checkpoint.step)
    source = str(checkpoint.path)
    extra: dict[str, Any] = {"step": checkpoint.step, "source": source, "seed": eval_seed, "env": env.id}
    if eval_options:
        extra["env_options"] = {**cfg.env_options, **eval_options}
    if lengths:
        extra["mean_length"] = statistics.fmean(lengths)
    if env.success_return is not None:
        extra["success_rate"] = sum(r > env.success_return for r in event.returns) / len(event.returns)
    deterministic = bool(getattr(cfg.agent, "eval_deterministic", True))
    updates = getattr(agent, "updates", None)
    more = {} if updates is None else {"updates": int(updates), **_untrained(int(updates))}
    if video and not isinstance(agent, RendersEpisodes):
        raise LabError(f"--video: {cfg.algo} agents cannot render episodes")
    with locks.try_hold(run.path, "run folder") as busy:  # reading never waits; writing into the run needs it
        if busy is not None:
            extra["not_written"] = f"eval.json{' and the video' if video else ''} not written: {busy}"
        else:
            try:
                write_eval_json(run, event, deterministic=deterministic,
                                **{k: v for k, v in extra.items() if k != "step"}, **more)
            except OSError as e:
                extra["not_written"] = f"could not write {run.eval_path} ({e.strerror or e})"
            if video:
                from lab.training import video as _video

                # rgb_array rendering needs no display: keep pygame/SDL from looking for one
                os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
                os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
                frames, _ret = agent.render_episode(seed=eval_seed)
                try:
                    extra["video"] = str(_video.write_video(frames, run.video_stem, fps=float(env.render_fps or 30)))
                except OSError as e:
                    raise LabError(f"--video: could not write {run.video_stem}.* ({e.strerror or e})") from None
    extra.update(more)
    return event, extra


def _untrained(updates: int) -> dict[str, str]:
    return {"warning": "no update was made: this is the untrained initial policy"} if updates == 0 else {}
