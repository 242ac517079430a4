"""Generator tests keep the lab's data folder (caches of classifiers and rollouts) in one temporary folder."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """Tiny models: a second torch thread only adds synchronisation (and contention on shared machines)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session", autouse=True)
def lab_data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("lab-data")
    old = os.environ.get("LAB_DATA_DIR")
    os.environ["LAB_DATA_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LAB_DATA_DIR", None)
    else:
        os.environ["LAB_DATA_DIR"] = old


@pytest.fixture(scope="session")
def digits8():
    from generators.datasets import DataConfig, digits

    return digits(None, DataConfig(size=8))
