"""One contract every registered image generator meets, taken from the registry (a new plugin is tested for free);
world models (``world_model`` set) have theirs in test_world_model_contract.py."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
import torch

from lab.agent import Budget, TrainContext
from lab.config import field_docs
from lab.errors import LabError
from lab.events import EventBus, ImagesReady, MetricsLogged, SafePoint
from lab.generator import Generator
from lab.registry import GENERATORS


def _roundtrip(state):
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)  # what the lab does with every checkpoint


@pytest.fixture(params=[n for n in GENERATORS.names() if not getattr(GENERATORS.load(n), "world_model", None)])
def gen_cls(request):
    return GENERATORS.load(request.param)


def _make(gen_cls, data, seed=0):
    torch.manual_seed(seed)
    return gen_cls(gen_cls.tiny_config(), data, seed=seed, device="cpu")


def _learn(gen, steps):
    bus = EventBus()
    seen = []
    for t in (MetricsLogged, SafePoint, ImagesReady):
        bus.subscribe(t, seen.append)
    gen.learn(TrainContext(bus=bus, run_dir="."), steps)
    return seen


def _tensors(state, prefix=""):
    """Flatten a state dict into {path: tensor or value}."""
    out = {}
    items = state.items() if isinstance(state, dict) else enumerate(state)
    for k, v in items:
        key = f"{prefix}/{k}"
        if isinstance(v, (dict, list, tuple)):
            out.update(_tensors(v, key))
        else:
            out[key] = v
    return out


def _equal(a, b):
    ta, tb = _tensors(a), _tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        if isinstance(ta[k], torch.Tensor):
            assert torch.equal(ta[k], tb[k]), k
        else:
            assert ta[k] == tb[k], k


def test_config_is_a_documented_dataclass(gen_cls):
    assert dataclasses.is_dataclass(gen_cls.Config)
    cfg = gen_cls.Config()
    docs = field_docs(gen_cls.Config)
    assert all(docs.get(f.name) for f in dataclasses.fields(cfg)), "every Config field needs a docstring"
    assert isinstance(gen_cls.tuned("digits"), dict)


def test_meets_the_protocol_and_round_trips_under_weights_only(gen_cls, digits8):
    a, b = _make(gen_cls, digits8, 0), _make(gen_cls, digits8, 1)
    assert isinstance(a, Generator)
    assert a.step == 0 and isinstance(a.budget(None), Budget) and a.budget(7).total == 7
    b.load_state_dict(_roundtrip(a.state_dict(full=False)))
    assert np.array_equal(a.sample(5, seed=3), b.sample(5, seed=3))


def test_samples_are_seeded_batched_and_in_range(gen_cls, digits8):
    g = _make(gen_cls, digits8)
    s = g.sample(7, seed=1, batch=3)
    assert s.shape == (7, 1, 8, 8) and s.dtype == np.float32 and s.min() >= 0 and s.max() <= 1
    assert np.array_equal(s, g.sample(7, seed=1, batch=3))
    assert not np.array_equal(s, g.sample(7, seed=2))


def test_learn_publishes_loss_images_per_second_grids_and_safe_points(gen_cls, digits8):
    g = _make(gen_cls, digits8)
    seen = _learn(g, 4)
    metrics = [e for e in seen if isinstance(e, MetricsLogged)]
    assert [e.step for e in metrics] == [2, 4]
    for key in gen_cls.progress_metrics:
        assert np.isfinite(metrics[-1].metrics[key])
    assert [e.step for e in seen if isinstance(e, SafePoint)] == [1, 2, 3, 4]
    grids = [e for e in seen if isinstance(e, ImagesReady)]
    assert [e.step for e in grids] == [4] and grids[0].images.shape == (4, 1, 8, 8)
    assert g.step == 4


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(gen_cls, digits8):
    whole = _make(gen_cls, digits8)
    _learn(whole, 6)
    first = _make(gen_cls, digits8)
    _learn(first, 3)
    state = _roundtrip(first.state_dict(full=True))
    second = _make(gen_cls, digits8, seed=0)
    torch.manual_seed(123)  # global RNG state must not matter
    second.load_state_dict(state)
    _learn(second, 6)
    _equal(whole.state_dict(full=True), second.state_dict(full=True))


def test_sampling_bad_input(gen_cls, digits8):
    g = _make(gen_cls, digits8)
    with pytest.raises(LabError, match=r"^--nonsense: \w+ models do not take it$"):
        g.sample(2, seed=0, nonsense=1)
    if not getattr(g, "conditional", False):
        with pytest.raises(LabError, match="cannot sample a class"):
            g.sample(2, seed=0, labels=np.array([1, 1]))


def test_evaluate_reports_metrics_beside_both_references(gen_cls, digits8):
    g = _make(gen_cls, digits8)
    out = g.evaluate(20, seed=0)
    for m in ("fd", "kid", "precision", "recall", "coverage", "copy_rate"):
        assert m in out and f"{m}_real" in out and f"{m}_gmm" in out
    assert out["fd_real"] < out["fd_gmm"]


def test_bfloat16_autocast_trains_on_the_cpu(gen_cls, digits8):
    cfg = dataclasses.replace(gen_cls.tiny_config(), amp="bfloat16")
    g = gen_cls(cfg, digits8, seed=0, device="cpu")
    assert g.amp_dtype == torch.bfloat16
    seen = _learn(g, 2)
    losses = [v for e in seen if isinstance(e, MetricsLogged) for k, v in e.metrics.items() if "loss" in k]
    assert losses and all(np.isfinite(v) for v in losses)
    s = g.sample(3, seed=0)
    assert s.dtype == np.float32 and np.isfinite(s).all() and s.min() >= 0 and s.max() <= 1
    assert gen_cls(gen_cls.tiny_config(), digits8, seed=0, device="cpu").amp_dtype is None  # auto: float32 on CPU
