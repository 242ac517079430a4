"""``lab eval``: load a run's final model (or its latest checkpoint) and evaluate it deterministically."""

from __future__ import annotations

import os
from typing import Any

from lab.agent import RendersEpisodes
from lab.device import resolve_device
from lab.errors import LabError
from lab.evaluation import EVAL_SEED_OFFSET, evaluate_agent, write_eval_json
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
) -> tuple[EvalCompleted, dict[str, Any]]:
    """Evaluate a run's model; write ``eval.json`` (and ``episode.gif``/``.mp4`` with ``video``).

    Returns the evaluation event and a dict of extra facts (step, which file was loaded, the seed, the video path).
    """
    if episodes < 1:
        raise LabError(f"--episodes: expected a positive number, got {episodes}")
    run = RunDir.open(run_dir)
    cfg = resolve_config(config_file=str(run.config_path))
    checkpoint = run.load_agent(algo=cfg.algo, expected_by=str(run.config_path))
    env = config_env(cfg)
    agent = AGENTS.load(cfg.algo)(cfg.agent, env, seed=cfg.seed, device=resolve_device(device))
    agent.load_state_dict(checkpoint.agent)
    eval_seed = (cfg.seed if seed is None else seed) + EVAL_SEED_OFFSET
    event = evaluate_agent(agent, episodes, eval_seed, checkpoint.step)
    source = str(checkpoint.path)
    extra: dict[str, Any] = {"step": checkpoint.step, "source": source, "seed": eval_seed}
    write_eval_json(run, event, seed=eval_seed, deterministic=True, source=source)
    if video:
        if not isinstance(agent, RendersEpisodes):
            raise LabError(f"--video: {cfg.algo} agents cannot render episodes")
        from lab.training import video as _video

        # rgb_array rendering needs no display: keep pygame/SDL from looking for one
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        frames, _ret = agent.render_episode(seed=eval_seed)
        extra["video"] = str(_video.write_video(frames, run.video_stem, fps=float(env.render_fps or 30)))
    return event, extra
