"""Old import path of :mod:`lab.training`, kept for code written against it; the lab itself imports lab.training."""

from lab.device import resolve_device
from lab.training import RUN_KEYS, TrainConfig, TrainResult, canonical_key, check_fits, resolve_config, resume, train

__all__ = ["TrainConfig", "TrainResult", "RUN_KEYS", "canonical_key", "resolve_config", "train", "resume",
           "resolve_device", "check_fits"]
