"""Shared fixtures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture
def rl_zoo3_hyperparams() -> Path:
    """rl_zoo3's own ``hyperparams/`` folder, found without importing rl_zoo3 (its import patches gymnasium)."""
    spec = importlib.util.find_spec("rl_zoo3")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("rl_zoo3 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "hyperparams"
