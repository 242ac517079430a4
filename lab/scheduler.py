"""The scheduler: queue named jobs, run them on a backend (inline, local processes, Ray), publish their lifecycle.

The one way the lab runs work in parallel: sweep trials now, tournament games and self-play actors next.

A :class:`Job` is a picklable unit of work: a ``"module:attr"`` target (or an importable function) and
its keyword arguments. The :class:`Scheduler` runs jobs on a backend and publishes ``JobQueued``,
``JobStarted``, ``JobFinished`` and ``JobFailed`` on the lab's event bus.

* ``inline``: in the calling process, one at a time (tests, debugging).
* ``local`` (default): a pool of N worker processes, one fresh process per job, so a crash, SIGKILL or
  OOM kills only that job. Per-job timeout; a failed job is retried ``retries`` times, then recorded as
  failed with its error. Jobs die with the scheduler's process, even when it is killed with SIGKILL.
* ``ray``: Ray core tasks (or a pool of actors) on a private local Ray instance or, with ``address``,
  an existing cluster.

Environment variables a job needs (``WANDB_MODE``, ...) travel in ``Job.env`` and are set in the
worker explicitly: forked servers and remote Ray workers do not share the caller's environment.

>>> sched = Scheduler(InlineBackend())
>>> sched.submit(Job("power", "builtins:pow", {"base": 2, "exp": 10}))
>>> [(o.name, o.ok, o.result) for o in sched.drain()]
[('power', True, 1024)]
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.connection
import os
import pickle
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from lab.errors import LabError, MissingDependencyError, warn
from lab.events import Event, EventBus
from lab.registry import load_target

__all__ = [
    "Job",
    "JobOutcome",
    "JobQueued",
    "JobStarted",
    "JobFinished",
    "JobFailed",
    "Backend",
    "InlineBackend",
    "LocalBackend",
    "RayBackend",
    "Scheduler",
    "make_backend",
    "gpu_slots",
    "run_job",
]


# --- jobs and their events -----------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """A named, picklable unit of work: ``target(**kwargs)`` run on a worker.

    Args:
        name: unique within a scheduler (``trial-0003``, ``games-12``).
        target: ``"module:attr"`` (imported on the worker) or an importable top-level function.
        kwargs: the job's config; must pickle.
        env: environment variables set on the worker before the job runs.
        cpus: CPU cores the job uses (Ray schedules by it).
        gpus: a fraction of one GPU (0.25, 0.5) or a whole number of GPUs; 0: none.
    """

    name: str
    target: str | Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    cpus: float = 1.0
    gpus: float = 0.0

    def __post_init__(self) -> None:
        if self.gpus < 0 or (self.gpus > 1 and self.gpus != int(self.gpus)):
            raise LabError(f"job {self.name}: gpus: expected a fraction in (0, 1] or a whole number, got {self.gpus}")


@dataclass(frozen=True, kw_only=True)
class JobQueued(Event):
    """A job entered the queue (again, for a retry: ``attempt`` > 1)."""

    name: str
    attempt: int = 1


@dataclass(frozen=True, kw_only=True)
class JobStarted(Event):
    """A worker began running a job."""

    name: str
    attempt: int = 1
    worker: str = ""
    """Where it runs: ``pid 1234``, ``inline``, ``ray``."""


@dataclass(frozen=True, kw_only=True)
class JobFinished(Event):
    """A job returned; ``seconds`` is the time spent inside the job's function."""

    name: str
    attempt: int = 1
    seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class JobFailed(Event):
    """A job raised, crashed or timed out; ``final`` when it will not be retried."""

    name: str
    attempt: int = 1
    error: str = ""
    final: bool = True


@dataclass
class JobOutcome:
    """How a job ended, after retries."""

    name: str
    ok: bool
    result: Any = None
    error: str = ""
    """One line: ``ValueError: ...``, ``killed by SIGKILL``, ``timed out after 30 s``."""
    attempts: int = 1
    seconds: float = 0.0
    """Seconds inside the job's function (last attempt)."""
    wall: float = 0.0
    """Seconds from the last attempt's start to its end, as the scheduler saw them."""


@dataclass
class _Failure:
    error: str
    """One line, as in :attr:`JobOutcome.error`."""
    retryable: bool = True


def _error_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def run_job(job: Job) -> tuple[bool, Any, float]:
    """Run ``job`` here: set its env, call its target. Returns ``(ok, result or a _Failure, seconds)``.

    User errors (:class:`LabError`) are not retried: running them again gives the same answer.
    """
    os.environ.update(job.env)
    t0 = time.perf_counter()
    try:
        fn = load_target(job.target) if isinstance(job.target, str) else job.target
        result = fn(**job.kwargs)
    except Exception as e:  # noqa: BLE001 - any error of the job is its outcome, reported to the scheduler
        return False, _Failure(_error_line(e), not isinstance(e, LabError)), time.perf_counter() - t0
    return True, result, time.perf_counter() - t0



# --- backends ------------------------------------------------------------------------------------


@dataclass
class _Done:
    token: int
    ok: bool
    result: Any = None
    failure: _Failure | None = None
    seconds: float = 0.0


def _done(token: int, message: tuple[bool, Any, float]) -> _Done:
    """A backend's record of what :func:`run_job` returned."""
    ok, value, seconds = message
    return _Done(token, ok, value if ok else None, None if ok else value, seconds)


class Backend(Protocol):
    """Where jobs run. The scheduler calls ``start`` while ``can_start``; ``poll`` reports ends."""

    name: str
    capacity: int

    def can_start(self, job: Job) -> bool: ...

    def start(self, token: int, job: Job) -> str:
        """Start ``job``; returns a worker label for ``JobStarted``."""
        ...

    def poll(self, timeout: float | None) -> list[_Done]:
        """Jobs that ended (wait at most ``timeout`` seconds for the first one)."""
        ...

    def cancel(self, token: int) -> None: ...

    def close(self) -> None: ...


class InlineBackend:
    """Runs each job in the calling process when it starts (no isolation, no timeout)."""

    name = "inline"

    def __init__(self) -> None:
        self.capacity = 1
        self._done: list[_Done] = []

    def can_start(self, job: Job) -> bool:
        return not self._done

    def start(self, token: int, job: Job) -> str:
        saved = dict(os.environ)
        try:
            ok, value, seconds = run_job(job)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self._done.append(_done(token, (ok, value, seconds)))
        return "inline"

    def poll(self, timeout: float | None) -> list[_Done]:
        done, self._done = self._done, []
        return done

    def cancel(self, token: int) -> None:
        pass

    def close(self) -> None:
        pass


def gpu_slots(count: int, used: list[float], need: float) -> list[int] | None:
    """GPUs to give a job needing ``need`` (a fraction of one, or whole ones), or None if none fit now.

    >>> gpu_slots(2, [0.5, 0.0], 0.5)
    [0]
    >>> gpu_slots(2, [0.75, 0.0], 0.5)
    [1]
    >>> gpu_slots(2, [0.5, 0.0], 2) is None
    True
    """
    if need <= 0:
        return []
    if need <= 1:
        for i in range(count):
            if used[i] + need <= 1 + 1e-9:
                return [i]
        return None
    free = [i for i in range(count) if used[i] == 0]
    return free[: int(need)] if len(free) >= need else None


def _die_with(lifeline: Any) -> None:
    """Kill this job's process group when the scheduler's process dies (even by SIGKILL).

    The scheduler holds the only write end of ``lifeline`` and never writes: reading it returns
    only at EOF, that is when the scheduler is gone. (The forkserver outlives the scheduler while
    jobs run, so the parent-death signal alone would not reach them.)
    """

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="lab-job-lifeline", daemon=True).start()


def _local_child(job: Job, conn: Any, lifeline: Any) -> None:
    os.setpgrp()  # its own process group, so a timeout or the scheduler's death also ends its subprocesses
    _die_with(lifeline)
    message = run_job(job)
    with contextlib.suppress(BrokenPipeError):  # the scheduler is gone: nobody to tell
        try:
            conn.send(message)
        except (pickle.PicklingError, TypeError, AttributeError) as e:  # what pickle raises on an unpicklable result
            conn.send((False, _Failure(f"result could not be sent back: {_error_line(e)}", False), message[2]))
    conn.close()


class LocalBackend:
    """A pool of ``workers`` processes on this machine, one fresh process per job.

    Processes fork from a ``forkserver`` that imports ``preload`` modules once, so a job does not pay
    for importing torch again. A job that asks for GPUs gets ``CUDA_VISIBLE_DEVICES`` set to its share.
    """

    name = "local"

    def __init__(self, workers: int = 2, *, preload: Iterable[str] = (), gpus: int | None = None) -> None:
        if workers < 1:
            raise LabError(f"--workers: expected a positive number, got {workers}")
        self.capacity = workers
        self._ctx = mp.get_context("forkserver")
        preload = ["lab.scheduler", *preload]
        self._ctx.set_forkserver_preload(preload)
        self._gpus = gpus
        self._gpu_used: list[float] = []
        self._running: dict[int, tuple[Any, Any, Job, list[int], Any]] = {}

    def _gpu_count(self) -> int:
        if self._gpus is None:
            import torch

            self._gpus = torch.cuda.device_count()
        if len(self._gpu_used) != self._gpus:
            self._gpu_used = [0.0] * self._gpus
        return self._gpus

    def can_start(self, job: Job) -> bool:
        if len(self._running) >= self.capacity:
            return False
        if job.gpus > 0:
            count = self._gpu_count()
            if count < job.gpus or count == 0:
                raise LabError(f"job {job.name} asks for {job.gpus:g} GPU but {count} GPUs are visible")
            return gpu_slots(count, self._gpu_used, job.gpus) is not None
        return True

    def start(self, token: int, job: Job) -> str:
        slots: list[int] = []
        if job.gpus > 0:
            slots = gpu_slots(self._gpu_count(), self._gpu_used, job.gpus) or []
            for i in slots:
                self._gpu_used[i] += min(job.gpus, 1.0)
            job = Job(job.name, job.target, job.kwargs, {**job.env, "CUDA_VISIBLE_DEVICES": ",".join(map(str, slots))},
                      job.cpus, job.gpus)
        reader, writer = self._ctx.Pipe(duplex=False)
        life_r, life_w = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_local_child, args=(job, writer, life_r), name=f"lab-job-{job.name}",
                                 daemon=False)
        proc.start()
        writer.close()
        life_r.close()
        self._running[token] = (proc, reader, job, slots, life_w)
        return f"pid {proc.pid}"

    def _finish(self, token: int) -> None:
        proc, reader, job, slots, life_w = self._running.pop(token)
        for i in slots:
            self._gpu_used[i] = max(0.0, self._gpu_used[i] - min(job.gpus, 1.0))
        reader.close()
        proc.join(timeout=5)
        life_w.close()
        with contextlib.suppress(ValueError):  # still running after the join: it is killed with its group
            proc.close()

    def poll(self, timeout: float | None) -> list[_Done]:
        if not self._running:
            return []
        waitables = {}
        for token, (proc, reader, *_rest) in self._running.items():
            waitables[reader] = token
            waitables[proc.sentinel] = token
        ready = mp.connection.wait(list(waitables), timeout)
        tokens = sorted({waitables[r] for r in ready})
        out = []
        for token in tokens:
            proc, reader, *_rest = self._running[token]
            message = None
            try:
                if reader.poll():
                    message = reader.recv()
            except (EOFError, OSError):
                message = None
            if message is None:
                proc.join(timeout=5)
                code = proc.exitcode
                if code is not None and code < 0:
                    what = f"killed by {signal.Signals(-code).name}"
                    if -code == signal.SIGKILL:
                        what += " (out of memory, or killed)"
                else:
                    what = f"worker exited with code {code} without a result"
                out.append(_Done(token, False, failure=_Failure(what, True)))
            else:
                out.append(_done(token, message))
            self._finish(token)
        return out

    def cancel(self, token: int) -> None:
        if token not in self._running:
            return
        proc = self._running[token][0]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()

    def close(self) -> None:
        for token in list(self._running):
            self.cancel(token)
            self._finish(token)


def check_ray_address(address: str, timeout: float = 3.0) -> None:
    """Fail fast (within ``timeout`` seconds) when nothing listens at a ``host:port`` Ray address."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise LabError(f"--address {address}: expected HOST:PORT (e.g. 10.0.0.5:6379), 'auto' or ray://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        reason = "no answer" if isinstance(e, socket.timeout) else (e.strerror or type(e).__name__)
        raise LabError(
            f"--address {address}: no Ray cluster answers there ({reason}); start one with `ray start --head` "
            f"or drop --address to run a private local Ray instance"
        ) from None


def _ray_entry(job: Job) -> tuple[bool, Any, float]:
    return run_job(job)


class _RayWorker:
    """A long-lived Ray actor running one job at a time (warm imports, e.g. for self-play workers)."""

    def run(self, job: Job) -> tuple[bool, Any, float]:
        return run_job(job)


class RayBackend:
    """Ray core: one task per job (default) or, with ``actors=True``, a pool of ``workers`` long-lived actors.

    Without ``address`` a private local Ray instance is started (and shut down on close); with it, the
    cluster at ``address`` is attached to, after checking within seconds that it answers. An actor whose
    process dies is replaced; its job is reported as failed (and retried by the scheduler).
    """

    name = "ray"

    def __init__(self, workers: int = 2, *, address: str | None = None, env: dict[str, str] | None = None,
                 actors: bool = False) -> None:
        try:
            import ray
        except ImportError:
            raise MissingDependencyError("--backend ray needs Ray: pip install 'lab[ray]'") from None
        self._ray = ray
        self.capacity = workers
        if address:
            check_ray_address(address)
        runtime_env = {"env_vars": dict(env or {})}
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "runtime_env": runtime_env}
        if address:
            kwargs["address"] = address
        else:  # a private instance even when a `ray start` cluster runs on this machine
            kwargs.update(address="local", num_cpus=workers)
        self._owns = not ray.is_initialized()
        if self._owns:
            if address:  # something answers there; give up within seconds if it is not a Ray cluster
                os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "3")
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as e:
                if not address:
                    raise
                raise LabError(f"--address {address}: cannot attach to a Ray cluster there "
                               f"({_error_line(e)[:200]})") from None
        self._remote = ray.remote(_ray_entry)
        self._actor_cls = ray.remote(_RayWorker) if actors else None
        self._idle: list[Any] = []
        self._running: dict[Any, tuple[int, Job, Any]] = {}

    def can_start(self, job: Job) -> bool:
        return len(self._running) < self.capacity

    def start(self, token: int, job: Job) -> str:
        options: dict[str, Any] = {"num_cpus": job.cpus, "runtime_env": {"env_vars": dict(job.env)}}
        if job.gpus:
            options["num_gpus"] = job.gpus
        actor = None
        if self._actor_cls is None:
            ref = self._remote.options(max_retries=0, **options).remote(job)
        else:
            actor = self._idle.pop() if self._idle else self._actor_cls.options(**options).remote()
            ref = actor.run.remote(job)
        self._running[ref] = (token, job, actor)
        return "ray actor" if actor is not None else "ray task"

    def poll(self, timeout: float | None) -> list[_Done]:
        if not self._running:
            return []
        ready, _ = self._ray.wait(list(self._running), num_returns=1, timeout=timeout)
        if ready and len(self._running) > 1:  # collect everything else that is done too
            rest = [r for r in self._running if r not in ready]
            more, _ = self._ray.wait(rest, num_returns=len(rest), timeout=0)
            ready = ready + more
        out = []
        for ref in ready:
            token, _job, actor = self._running.pop(ref)
            try:
                message = self._ray.get(ref)
            except self._ray.exceptions.RayError as e:  # worker or actor crash, cancellation
                out.append(_Done(token, False, failure=_Failure(_error_line(e).split(" (pid=")[0], True)))
                if actor is not None:
                    self._kill(actor)
                continue
            out.append(_done(token, message))
            if actor is not None:
                self._idle.append(actor)
        return out

    def _kill(self, actor: Any = None, ref: Any = None) -> None:
        """Kill an actor (or cancel a task); one that is already gone is not an error."""
        try:
            if actor is not None:
                self._ray.kill(actor)
            else:
                self._ray.cancel(ref, force=True)
        except (self._ray.exceptions.RayError, ValueError, TypeError) as e:
            warn(f"Ray: could not stop a job's {'actor' if actor is not None else 'task'} ({_error_line(e)[:200]})")

    def cancel(self, token: int) -> None:
        for ref, (t, _job, actor) in list(self._running.items()):
            if t == token:
                self._kill(actor, ref)

    def close(self) -> None:
        for ref, (_t, _job, actor) in list(self._running.items()):
            self._kill(actor, ref)
        for actor in self._idle:
            self._kill(actor)
        self._running.clear()
        self._idle.clear()
        if self._owns:
            self._ray.shutdown()


def make_backend(
    name: str, workers: int = 2, *, address: str | None = None, env: dict[str, str] | None = None,
    preload: Iterable[str] = (),
) -> Backend:
    """``inline``, ``local`` or ``ray`` (``address`` only applies to Ray)."""
    if address and name != "ray":
        raise LabError(f"--address {address} needs --backend ray (the {name} backend runs on this machine)")
    if name == "inline":
        return InlineBackend()
    if name == "local":
        return LocalBackend(workers, preload=preload)
    if name == "ray":
        return RayBackend(workers, address=address, env=env)
    from lab.errors import unknown_name

    raise unknown_name("backend", name, ["inline", "local", "ray"])


# --- the scheduler -------------------------------------------------------------------------------


class Scheduler:
    """Queue jobs, run them on ``backend``, retry failures, enforce timeouts, publish job events.

    Args:
        backend: where jobs run.
        bus: receives JobQueued/JobStarted/JobFinished/JobFailed (a private bus when None).
        retries: extra attempts for a job that crashed, raised (except user errors) or timed out.
        timeout: seconds a job may run per attempt; None: no limit (not enforced inline).
    """

    def __init__(self, backend: Backend, *, bus: EventBus | None = None, retries: int = 1,
                 timeout: float | None = None) -> None:
        if retries < 0:
            raise LabError(f"retries: expected 0 or more, got {retries}")
        self.backend = backend
        self.bus = bus or EventBus()
        self.retries = retries
        self.timeout = timeout
        self._queue: deque[tuple[Job, int]] = deque()
        self._running: dict[int, tuple[Job, int, float]] = {}
        self._names: set[str] = set()
        self._token = 0
        self._ready: deque[JobOutcome] = deque()
        self._timed_out: set[int] = set()

    @property
    def busy(self) -> int:
        """Jobs queued or running."""
        return len(self._queue) + len(self._running)

    @property
    def free(self) -> int:
        """How many more jobs could start right now."""
        return max(0, self.backend.capacity - self.busy)

    def submit(self, job: Job) -> None:
        """Queue ``job``; it starts as soon as a worker is free."""
        if job.name in self._names:
            raise LabError(f"a job named {job.name!r} was already submitted")
        self._names.add(job.name)
        self._enqueue(job, 1)

    def _enqueue(self, job: Job, attempt: int) -> None:
        self._queue.append((job, attempt))
        self.bus.publish(JobQueued(name=job.name, attempt=attempt))

    def _start_queued(self) -> None:
        while self._queue and self.backend.can_start(self._queue[0][0]):
            job, attempt = self._queue.popleft()
            self._token += 1
            self._running[self._token] = (job, attempt, time.perf_counter())
            worker = self.backend.start(self._token, job)
            self.bus.publish(JobStarted(name=job.name, attempt=attempt, worker=worker))
            self._collect(0)
            if self._ready:  # the inline backend finishes a job as it starts it
                return

    def _collect(self, timeout: float | None) -> None:
        for done in self.backend.poll(timeout):
            job, attempt, t0 = self._running.pop(done.token)
            wall = time.perf_counter() - t0
            if done.token in self._timed_out:
                self._timed_out.discard(done.token)
                self._fail(job, attempt, f"timed out after {self.timeout:g} s", True, wall, wall)
            elif done.ok:
                self.bus.publish(JobFinished(name=job.name, attempt=attempt, seconds=done.seconds))
                self._ready.append(JobOutcome(job.name, True, done.result, "", attempt, done.seconds, wall))
            else:
                failure = done.failure or _Failure("unknown failure")
                self._fail(job, attempt, failure.error, failure.retryable, done.seconds, wall)

    def _fail(self, job: Job, attempt: int, error: str, retryable: bool, seconds: float, wall: float) -> None:
        final = not retryable or attempt > self.retries
        self.bus.publish(JobFailed(name=job.name, attempt=attempt, error=error, final=final))
        if final:
            self._ready.append(JobOutcome(job.name, False, None, error, attempt, seconds, wall))
        else:
            self._enqueue(job, attempt + 1)

    def _check_timeouts(self) -> None:
        if self.timeout is None:
            return
        now = time.perf_counter()
        for token, (_job, _attempt, t0) in self._running.items():
            if now - t0 > self.timeout and token not in self._timed_out:
                self._timed_out.add(token)
                self.backend.cancel(token)  # its end comes back through poll()

    def next_outcome(self, timeout: float | None = None) -> JobOutcome | None:
        """Start what can start and return the next job that ended (finished, or failed for good).

        Returns None when nothing is left to run, or when ``timeout`` seconds pass first.
        """
        deadline = None if timeout is None else time.perf_counter() + timeout
        while not self._ready:
            self._start_queued()
            if self._ready:
                break
            if not self._running:
                return None
            wait = 0.5 if self.timeout is not None else None
            if deadline is not None:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                wait = left if wait is None else min(wait, left)
            self._collect(wait)
            self._check_timeouts()
        return self._ready.popleft()

    def drain(self) -> Iterator[JobOutcome]:
        """Yield every outcome until the queue and the workers are empty."""
        while True:
            outcome = self.next_outcome()
            if outcome is None:
                return
            yield outcome

    def close(self) -> None:
        """Cancel running jobs and release the backend."""
        self.backend.close()

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
