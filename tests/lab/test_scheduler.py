"""The scheduler: job events, retries, crash isolation, timeouts, GPU packing, Ray."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from lab.errors import LabError
from lab.events import Event, EventBus
from lab.scheduler import InlineBackend, Job, LocalBackend, Scheduler, check_ray_address, gpu_slots, make_backend


def add(a: int, b: int) -> int:
    return a + b


def sigkill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def user_error() -> None:
    raise LabError("bad input")


def flaky(marker: str) -> str:
    """Fails the first time (no marker file yet), works the second."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    return "second attempt"


def env_value(key: str) -> str | None:
    return os.environ.get(key)


def returns_a_lambda() -> object:
    return lambda: 1  # a result that cannot be pickled back to the scheduler


def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _recorded(bus: EventBus) -> list[tuple[str, str, int]]:
    seen: list[tuple[str, str, int]] = []
    bus.subscribe(Event, lambda e: seen.append((type(e).__name__, e.name, e.attempt)))
    return seen


def test_inline_events_in_order_and_retry(tmp_path):
    bus = EventBus()
    seen = _recorded(bus)
    sched = Scheduler(InlineBackend(), bus=bus, retries=1)
    sched.submit(Job("sum", add, {"a": 2, "b": 3}))
    sched.submit(Job("flaky", flaky, {"marker": str(tmp_path / "m")}))
    sched.submit(Job("user", user_error))
    outcomes = {o.name: o for o in sched.drain()}
    assert outcomes["sum"].result == 5
    assert (outcomes["flaky"].ok, outcomes["flaky"].result, outcomes["flaky"].attempts) == (True, "second attempt", 2)
    # user errors are not retried: the same input gives the same error
    assert (outcomes["user"].ok, outcomes["user"].error, outcomes["user"].attempts) == (False, "LabError: bad input", 1)
    assert seen[:3] == [("JobQueued", "sum", 1), ("JobQueued", "flaky", 1), ("JobQueued", "user", 1)]
    assert seen[3:5] == [("JobStarted", "sum", 1), ("JobFinished", "sum", 1)]
    assert ("JobFailed", "flaky", 1) in seen and ("JobFinished", "flaky", 2) in seen
    assert ("JobFailed", "user", 1) in seen
    assert seen[-1] == ("JobFinished", "flaky", 2)  # the retry queued behind "user"


def test_duplicate_name_is_an_error():
    sched = Scheduler(InlineBackend())
    sched.submit(Job("a", add, {"a": 1, "b": 1}))
    with pytest.raises(LabError, match="^a job named 'a' was already submitted$"):
        sched.submit(Job("a", add, {"a": 1, "b": 1}))


def test_local_pool_survives_sigkill_and_timeout():
    bus = EventBus()
    seen = _recorded(bus)
    sched = Scheduler(LocalBackend(2), bus=bus, retries=1, timeout=1.5)
    sched.submit(Job("killed", sigkill_self))
    sched.submit(Job("env", env_value, {"key": "LAB_TEST_VALUE"}, env={"LAB_TEST_VALUE": "passed explicitly"}))
    sched.submit(Job("slow", sleep_for, {"seconds": 30}))
    sched.submit(Job("sum", add, {"a": 40, "b": 2}))
    t0 = time.perf_counter()
    with sched:
        outcomes = {o.name: o for o in sched.drain()}
    assert time.perf_counter() - t0 < 15
    assert outcomes["killed"].error == "killed by SIGKILL (out of memory, or killed)"
    assert (outcomes["killed"].ok, outcomes["killed"].attempts) == (False, 2)
    assert outcomes["env"].result == "passed explicitly"
    assert outcomes["sum"].result == 42
    assert (outcomes["slow"].error, outcomes["slow"].attempts) == ("timed out after 1.5 s", 2)
    assert [e for e in seen if e[0] == "JobFailed"].count(("JobFailed", "killed", 1)) == 1


def test_a_result_that_cannot_be_pickled_fails_only_its_own_job():
    bus = EventBus()
    seen = _recorded(bus)
    sched = Scheduler(LocalBackend(2), bus=bus, retries=1)
    sched.submit(Job("lambda", returns_a_lambda))
    sched.submit(Job("sum", add, {"a": 1, "b": 2}))
    sched.submit(Job("after", add, {"a": 3, "b": 4}))
    with sched:
        outcomes = {o.name: o for o in sched.drain()}
    assert outcomes["lambda"].ok is False and outcomes["lambda"].attempts == 1  # the same result again: no retry
    assert outcomes["lambda"].error.startswith("result could not be sent back: ")
    assert "pickle" in outcomes["lambda"].error
    assert (outcomes["sum"].result, outcomes["after"].result) == (3, 7)
    assert ("JobFailed", "lambda", 1) in seen and ("JobFinished", "after", 1) in seen


def test_gpu_packing():
    assert gpu_slots(1, [0.0], 0.5) == [0]
    assert gpu_slots(1, [0.5], 0.5) == [0]
    assert gpu_slots(1, [0.75], 0.5) is None
    assert gpu_slots(2, [0.0, 0.0], 2) == [0, 1]
    assert gpu_slots(2, [0.1, 0.0], 1) == [1]
    backend = LocalBackend(2, gpus=0)
    with pytest.raises(LabError, match=r"^job j asks for 0.5 GPU but 0 GPUs are visible$"):
        backend.can_start(Job("j", add, gpus=0.5))
    with pytest.raises(LabError, match=r"gpus: expected a fraction in \(0, 1\] or a whole number, got 1.5"):
        Job("j", add, gpus=1.5)


def test_ray_address_that_does_not_answer_fails_fast():
    t0 = time.perf_counter()
    with pytest.raises(LabError, match=r"^--address 127.0.0.1:9: no Ray cluster answers there \(.*\); start one"):
        check_ray_address("127.0.0.1:9")
    assert time.perf_counter() - t0 < 5
    with pytest.raises(LabError, match="^--address nowhere: expected HOST:PORT"):
        check_ray_address("nowhere")
    with pytest.raises(LabError, match=r"^--address 1.2.3.4:6379 needs --backend ray"):
        make_backend("local", address="1.2.3.4:6379")
    with pytest.raises(LabError, match="^unknown backend 'rey'; did you mean 'ray'?"):
        make_backend("rey")


def pid_and_stream(n: int, die_first: str | None = None) -> int:
    """Streams ``n`` items (its pid first); with ``die_first``, the first attempt dies after two items."""
    from lab.scheduler import emit

    for i in range(n):
        emit((os.getpid(), i))
        if die_first and i == 1 and not os.path.exists(die_first):
            open(die_first, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def test_persistent_workers_stream_items_and_are_replaced_when_they_die(tmp_path):
    streamed: list[tuple[str, int, tuple[int, int]]] = []
    bus = EventBus()
    seen = _recorded(bus)
    backend = LocalBackend(1, persistent=True)
    with Scheduler(backend, bus=bus, retries=1, on_output=lambda name, attempt, item: streamed.append((name, attempt, item))) as sched:
        sched.submit(Job("a", pid_and_stream, {"n": 3}))
        sched.submit(Job("b", pid_and_stream, {"n": 2}))
        outcomes = {o.name: o for o in sched.drain()}
        assert outcomes["a"].result == outcomes["b"].result  # one process ran both jobs
        pid = outcomes["a"].result
        assert [(n, a, i) for n, a, (_p, i) in streamed] == [("a", 1, 0), ("a", 1, 1), ("a", 1, 2), ("b", 1, 0), ("b", 1, 1)]
        streamed.clear()
        sched.submit(Job("c", pid_and_stream, {"n": 3, "die_first": str(tmp_path / "died")}))
        (outcome,) = list(sched.drain())
    assert outcome.ok and outcome.attempts == 2 and outcome.result != pid  # a fresh process took over
    assert [(a, i) for _n, a, (_p, i) in streamed] == [(1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]
    assert ("JobFailed", "c", 1) in seen


@pytest.mark.slow  # a private Ray instance: ~10 s
def test_ray_actors_stream_items_and_are_replaced_when_they_die(tmp_path):
    pytest.importorskip("ray")
    from lab.scheduler import RayBackend

    streamed: list[tuple[str, int, int]] = []
    # Ray's workers import this test module by the name pytest gave it
    backend = RayBackend(1, actors=True, env={"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
    with Scheduler(backend, retries=1, on_output=lambda name, attempt, item: streamed.append((name, attempt, item[1]))) as sched:
        sched.submit(Job("a", pid_and_stream, {"n": 3}))
        sched.submit(Job("c", pid_and_stream, {"n": 3, "die_first": str(tmp_path / "died")}))
        outcomes = {o.name: o for o in sched.drain()}
    assert outcomes["a"].ok and outcomes["c"].ok and outcomes["c"].attempts == 2
    assert outcomes["a"].result != outcomes["c"].result  # the actor that died was replaced
    assert streamed[:3] == [("a", 1, 0), ("a", 1, 1), ("a", 1, 2)]
    assert streamed[-3:] == [("c", 2, 0), ("c", 2, 1), ("c", 2, 2)]
    # What the dead attempt streamed before dying arrived in order, tagged attempt 1 (an item in flight may be lost).
    assert streamed[3:-3] in ([("c", 1, 0), ("c", 1, 1)], [("c", 1, 0)], [])
