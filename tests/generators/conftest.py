"""Generator tests keep the lab's data folder (caches of classifiers and rollouts) in one temporary folder."""

from __future__ import annotations

import os

import pytest


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
