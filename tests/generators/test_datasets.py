"""Data sets: digits' shape and fixed split, folder errors, rollouts collected once and cached."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from generators.datasets import DataConfig, folder, load_dataset
from lab.errors import LabError


def test_digits_default_16x16_ink_is_one_and_split_is_fixed():
    ds = load_dataset("digits")
    assert ds.train.shape[1:] == (1, 16, 16) and ds.train.dtype == np.float32
    assert len(ds.train) + len(ds.held_out) == 1797
    assert ds.train.min() >= 0.0 and ds.train.max() == pytest.approx(1.0)
    assert ds.classes == tuple("0123456789") and ds.labeled
    again = load_dataset("digits")
    assert np.array_equal(ds.held_out, again.held_out) and ds.fingerprint() == again.fingerprint()
    # the held-out split keeps a fifth of every class
    counts = np.bincount(ds.held_out_labels, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38
    # background (the frame's corner) is 0, the ink of a stroke is near 1
    assert ds.train[:, 0, 0, 0].max() == 0.0


def test_digits_native_size_and_other_split_seed():
    ds = load_dataset("digits", DataConfig(size=8))
    assert ds.shape == (1, 8, 8)
    assert set(np.unique(ds.train * 16)) <= set(range(17))  # the original 0..16 levels, untouched
    other = load_dataset("digits", DataConfig(size=8, split_seed=1))
    assert not np.array_equal(ds.held_out, other.held_out)


def test_unknown_data_set_suggests_the_closest():
    with pytest.raises(LabError, match=r"unknown data set 'digit'; did you mean 'digits'\?"):
        load_dataset("digit")
    with pytest.raises(LabError, match="takes no argument"):
        load_dataset("digits:x")


def _png(path, size=(8, 8), mode="L", value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def test_folder_with_class_subfolders(tmp_path):
    for cls in ("cats", "dogs"):
        for i in range(5):
            _png(tmp_path / cls / f"{i}.png", value=40 * i)
    ds = folder(str(tmp_path), DataConfig())
    assert ds.classes == ("cats", "dogs") and ds.shape == (1, 8, 8)
    assert len(ds.train) + len(ds.held_out) == 10
    assert sorted(np.bincount(ds.held_out_labels)) == [1, 1]


def test_folder_rgb_resized(tmp_path):
    _png(tmp_path / "a.png", (20, 20), "RGB")
    _png(tmp_path / "b.jpg", (10, 10), "RGB")
    _png(tmp_path / "c.png", (10, 10), "L")
    ds = folder(str(tmp_path), DataConfig(resize=True, size=12))
    assert ds.shape == (3, 12, 12) and not ds.labeled


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, r"folder:.*: the folder is empty"),
        (lambda p: (p / "notes.txt").write_text("hi"), r"none of its 1 files is a readable image"),
        (lambda p: (_png(p / "a.png", (8, 8)), _png(p / "b.png", (9, 9))),
         r"images of mixed sizes \(8x8 a.png, 9x9 b.png\); pass --resize"),
    ],
)
def test_folder_bad_input_is_one_line(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(LabError, match=message) as info:
        folder(str(tmp_path), DataConfig())
    assert "\n" not in str(info.value)


def test_folder_missing(tmp_path):
    with pytest.raises(LabError, match="no such folder"):
        load_dataset(f"folder:{tmp_path / 'nope'}")


def test_rollouts_random_player_cached(lab_data_dir):
    cfg = DataConfig(episodes=2, max_frames=30)
    ds = load_dataset("rollouts:CartPole-v1", cfg)
    assert ds.shape == (3, 32, 32) and not ds.labeled
    assert len(ds.train) + len(ds.held_out) == 30
    assert ds.extras["actions"].shape == (len(ds.train),)
    cached = list((lab_data_dir / "rollouts").glob("CartPole-v1-*.npz"))
    assert len(cached) == 1
    again = load_dataset("rollouts:CartPole-v1", cfg)
    assert np.array_equal(ds.train, again.train)


def test_rollouts_vector_observations_keep_raw_vectors_and_actions(lab_data_dir):
    cfg = DataConfig(episodes=10, max_frames=40, observations=True)
    ds = load_dataset("rollouts:CartPole-v1", cfg)
    assert ds.shape == (1, 1, 4) and not ds.labeled  # CartPole's 4 features as a 1x4 "image"
    assert len(ds.train) + len(ds.held_out) == 40
    obs, actions = ds.extras["observations"], ds.extras["actions"]
    assert obs.shape == (len(ds.train), 4) and actions.shape == (len(ds.train),)
    assert set(np.unique(actions)) <= {0, 1}
    assert ds.train.min() >= 0 and ds.train.max() <= 1
    # the served values are the raw vectors min-max scaled per feature: a monotone map of each column
    for j in range(4):
        order = np.argsort(obs[:, j], kind="stable")
        assert np.all(np.diff(ds.train[order, 0, 0, j]) >= 0)
    again = load_dataset("rollouts:CartPole-v1", cfg)  # from the cache: the same arrays, extras included
    assert np.array_equal(again.train, ds.train) and np.array_equal(again.extras["observations"], obs)
    assert np.array_equal(again.extras["actions"], actions)
