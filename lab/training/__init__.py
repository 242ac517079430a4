"""``lab train`` and ``lab eval``: everything a training run is made of.

    config.py       TrainConfig and its layers (defaults < tuned < --hyperparams < --config < flags < --set)
    run.py          train / resume: the run folder, the agent, the subscribers, the driver
    checkpoints.py  CheckpointWriter (at safe points) and FinalModelWriter (model.pt on RunFinished)
    outputs.py      eval.json and curve.png, written on RunFinished
    samples.py      generator runs: sample grids (PNG, W&B) and sample metrics (eval.json)
    evaluate.py     ``lab eval``: a run's model evaluated again (and ``--video``)
    tracking.py     the W&B logger (offline without an API key)
    tensorboard.py  the TensorBoard writer (``--tensorboard``; an optional dependency)
    progress.py     the live progress display
    plots.py        learning-curve PNGs from events.jsonl
    video.py        episode frames to MP4 (or GIF)

The driver (:func:`execute`) drives a :class:`lab.agent.Trainable` and sequences its phases; every
file it leaves behind is written by a subscriber, so a second kind of trainable reuses runs,
checkpoints, resume and W&B by building its own object and calling the same driver.
"""

from lab.training.config import RUN_KEYS, TrainConfig, agent_fields, canonical_key, config_env, resolve_config
from lab.training.evaluate import evaluate_run
from lab.training.run import TrainResult, build_agent, check_budget, check_config, check_fits, execute, resume, train

__all__ = [
    "TrainConfig",
    "TrainResult",
    "RUN_KEYS",
    "agent_fields",
    "canonical_key",
    "resolve_config",
    "config_env",
    "train",
    "resume",
    "execute",
    "build_agent",
    "check_fits",
    "check_budget",
    "check_config",
    "evaluate_run",
]
