"""The scheduler: queue named jobs, run them on a backend (inline, local processes, Ray), publish their lifecycle.

The one way the lab runs work in parallel: sweep trials, tournament games and self-play actors.

A :class:`Job` is a picklable unit of work: a ``"module:attr"`` target (or an importable function) and
its keyword arguments. The :class:`Scheduler` runs jobs on a backend and publishes ``JobQueued``,
``JobStarted``, ``JobFinished`` and ``JobFailed`` on the lab's event bus.

* ``inline``: in the calling process, one at a time (tests, debugging).
* ``local`` (default): a pool of N worker processes, one fresh process per job, so a crash, SIGKILL or
  OOM kills only that job. Per-job timeout; a failed job is retried ``retries`` times, then recorded as
  failed with its error. Jobs die with the scheduler's process, even when it is killed with SIGKILL.
* ``local`` with ``persistent=True``: N long-lived worker processes, each running one job after another
  (warm imports and caches, e.g. self-play actors playing one batch of games per iteration). A worker
  that dies is replaced by a fresh process; its job fails and is retried like any other.
* ``ray``: Ray core tasks (or a pool of actors) on a private local Ray instance or, with ``address``,
  an existing cluster.

A running job can stream results back before it returns: :func:`emit` sends one item, which the
scheduler hands to its ``on_output`` callback as it arrives, tagged with the job's name and attempt
(a consumer drops the items of an attempt that failed). Streaming works inline, on local workers and
on Ray actors; in plain Ray tasks ``emit`` returns False and the item is not sent.

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
    "emit",
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


_SINK: Callable[[Any], None] | None = None
"""Where :func:`emit` sends items in this process (set by the backend around each job)."""


def emit(item: Any) -> bool:
    """From inside a running job: stream ``item`` (picklable) back to the scheduler now.

    Returns False when the job runs where nothing listens (a plain Ray task); the item is dropped.
    """
    if _SINK is None:
        return False
    _SINK(item)
    return True


@contextlib.contextmanager
def _sink(fn: Callable[[Any], None] | None) -> Iterator[None]:
    global _SINK
    old, _SINK = _SINK, fn
    try:
        yield
    finally:
        _SINK = old



# --- backends ------------------------------------------------------------------------------------


@dataclass
class _Done:
    token: int
    ok: bool
    result: Any = None
    failure: _Failure | None = None
    seconds: float = 0.0


@dataclass
class _Output:
    """An item a running job streamed back with :func:`emit`."""

    token: int
    item: Any


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

    def poll(self, timeout: float | None) -> list[_Done | _Output]:
        """Jobs that ended and items they streamed, in arrival order (wait at most ``timeout`` seconds)."""
        ...

    def cancel(self, token: int) -> None: ...

    def close(self) -> None: ...


class InlineBackend:
    """Runs each job in the calling process when it starts (no isolation, no timeout)."""

    name = "inline"

    def __init__(self) -> None:
        self.capacity = 1
        self._done: list[_Done | _Output] = []

    def can_start(self, job: Job) -> bool:
        return not self._done

    def start(self, token: int, job: Job) -> str:
        saved = dict(os.environ)
        try:
            with _sink(lambda item: self._done.append(_Output(token, item))):
                ok, value, seconds = run_job(job)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self._done.append(_done(token, (ok, value, seconds)))
        return "inline"

    def poll(self, timeout: float | None) -> list[_Done | _Output]:
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


def _send_result(conn: Any, message: tuple[bool, Any, float]) -> None:
    """Send a job's ``("done", message)``; a result that does not pickle fails only that job."""
    with contextlib.suppress(BrokenPipeError):  # the scheduler is gone: nobody to tell
        try:
            conn.send(("done", message))
        except (pickle.PicklingError, TypeError, AttributeError) as e:  # what pickle raises on an unpicklable result
            failure = _Failure(f"result could not be sent back: {_error_line(e)}", False)
            conn.send(("done", (False, failure, message[2])))


def _local_child(job: Job, conn: Any, lifeline: Any) -> None:
    os.setpgrp()  # its own process group, so a timeout or the scheduler's death also ends its subprocesses
    _die_with(lifeline)
    with _sink(lambda item: conn.send(("emit", item))):
        message = run_job(job)
    _send_result(conn, message)
    conn.close()


def _pool_worker(conn: Any, lifeline: Any) -> None:
    """A persistent worker: run the jobs that arrive on ``conn`` one after another until it closes."""
    os.setpgrp()
    _die_with(lifeline)
    base_env = dict(os.environ)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        os.environ.clear()
        os.environ.update(base_env)  # one job's env does not leak into the next
        with _sink(lambda item: conn.send(("emit", item))):
            message = run_job(job)
        _send_result(conn, message)


@dataclass
class _Proc:
    """A worker process of the local backend and its pipes."""

    proc: Any
    conn: Any
    """Jobs go out (persistent workers) and ``("emit", item)`` / ``("done", message)`` come back."""
    lifeline: Any
    job: Job | None = None
    token: int | None = None
    slots: list[int] = field(default_factory=list)


class LocalBackend:
    """A pool of ``workers`` processes on this machine: one fresh process per job, or (``persistent``)
    ``workers`` long-lived processes that each run one job after another.

    Processes fork from a ``forkserver`` that imports ``preload`` modules once, so a job does not pay
    for importing torch again. A job that asks for GPUs gets ``CUDA_VISIBLE_DEVICES`` set to its share
    (fresh processes only: a persistent worker keeps the devices it first saw).
    """

    name = "local"

    def __init__(self, workers: int = 2, *, preload: Iterable[str] = (), gpus: int | None = None,
                 persistent: bool = False) -> None:
        if workers < 1:
            raise LabError(f"--workers: expected a positive number, got {workers}")
        self.capacity = workers
        self.persistent = persistent
        self._ctx = mp.get_context("forkserver")
        preload = ["lab.scheduler", *preload]
        self._ctx.set_forkserver_preload(preload)
        self._gpus = gpus
        self._gpu_used: list[float] = []
        self._running: dict[int, _Proc] = {}
        self._idle: list[_Proc] = []
        """Persistent workers waiting for a job."""

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
            if self.persistent:
                raise LabError(f"job {job.name} asks for a GPU share, which persistent local workers cannot give")
            count = self._gpu_count()
            if count < job.gpus or count == 0:
                raise LabError(f"job {job.name} asks for {job.gpus:g} GPU but {count} GPUs are visible")
            return gpu_slots(count, self._gpu_used, job.gpus) is not None
        return True

    def _spawn(self, target: Callable[..., None], args: tuple[Any, ...], name: str) -> _Proc:
        mine, theirs = self._ctx.Pipe(duplex=self.persistent)
        life_r, life_w = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=target, args=(*args, theirs, life_r), name=name, daemon=False)
        proc.start()
        theirs.close()
        life_r.close()
        return _Proc(proc, mine, life_w)

    def start(self, token: int, job: Job) -> str:
        if self.persistent:
            worker = None
            while self._idle and worker is None:
                worker = self._idle.pop(0)
                if not worker.proc.is_alive():  # died between jobs: replace it
                    self._close(worker)
                    worker = None
            if worker is None:
                worker = self._spawn(_pool_worker, (), f"lab-worker-{len(self._running) + len(self._idle)}")
            try:
                worker.conn.send(job)
            except (BrokenPipeError, OSError):  # its death shows up in the next poll
                pass
        else:
            slots: list[int] = []
            if job.gpus > 0:
                slots = gpu_slots(self._gpu_count(), self._gpu_used, job.gpus) or []
                for i in slots:
                    self._gpu_used[i] += min(job.gpus, 1.0)
                job = Job(job.name, job.target, job.kwargs,
                          {**job.env, "CUDA_VISIBLE_DEVICES": ",".join(map(str, slots))}, job.cpus, job.gpus)
            worker = self._spawn(_local_child, (job,), f"lab-job-{job.name}")
            worker.slots = slots
        worker.job, worker.token = job, token
        self._running[token] = worker
        return f"pid {worker.proc.pid}"

    def _close(self, worker: _Proc) -> None:
        worker.conn.close()
        worker.proc.join(timeout=5)
        worker.lifeline.close()
        with contextlib.suppress(ValueError):  # still running after the join: it is killed with its group
            worker.proc.close()

    def _finish(self, token: int, *, alive: bool) -> None:
        worker = self._running.pop(token)
        for i in worker.slots:
            self._gpu_used[i] = max(0.0, self._gpu_used[i] - min(worker.job.gpus if worker.job else 0.0, 1.0))
        if self.persistent and alive:
            worker.job, worker.token, worker.slots = None, None, []
            self._idle.append(worker)
        else:
            self._close(worker)

    def poll(self, timeout: float | None) -> list[_Done | _Output]:
        if not self._running:
            return []
        waitables = {}
        for token, worker in self._running.items():
            waitables[worker.conn] = token
            waitables[worker.proc.sentinel] = token
        ready = mp.connection.wait(list(waitables), timeout)
        tokens = sorted({waitables[r] for r in ready})
        out: list[_Done | _Output] = []
        for token in tokens:
            worker = self._running[token]
            final = None
            try:
                while final is None and worker.conn.poll():
                    kind, payload = worker.conn.recv()
                    if kind == "emit":
                        out.append(_Output(token, payload))
                    else:
                        final = payload
            except (EOFError, OSError):
                final = None
            if final is not None:
                out.append(_done(token, final))
                self._finish(token, alive=True)
            elif not worker.proc.is_alive():
                worker.proc.join(timeout=5)
                code = worker.proc.exitcode
                if code is not None and code < 0:
                    what = f"killed by {signal.Signals(-code).name}"
                    if -code == signal.SIGKILL:
                        what += " (out of memory, or killed)"
                else:
                    what = f"worker exited with code {code} without a result"
                out.append(_Done(token, False, failure=_Failure(what, True)))
                self._finish(token, alive=False)
        return out

    def cancel(self, token: int) -> None:
        if token not in self._running:
            return
        proc = self._running[token].proc
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()

    def close(self) -> None:
        for token in list(self._running):
            self.cancel(token)
            self._finish(token, alive=False)
        for worker in self._idle:
            with contextlib.suppress(BrokenPipeError, OSError):
                worker.conn.send(None)
            self._close(worker)
        self._idle.clear()


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

    def run_stream(self, job: Job) -> Iterator[tuple[str, Any]]:
        """Run ``job`` in a thread and yield ``("emit", item)`` as it streams, then ``("done", message)``."""
        import queue

        q: queue.Queue[tuple[str, Any]] = queue.Queue()

        def work() -> None:
            with _sink(lambda item: q.put(("emit", item))):
                message = run_job(job)
            q.put(("done", message))

        threading.Thread(target=work, name="lab-ray-job", daemon=True).start()
        while True:
            kind, payload = q.get()
            yield kind, payload
            if kind == "done":
                return


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
        import queue

        self._inbox: queue.Queue[tuple[Any, str, Any]] = queue.Queue()
        """Actor jobs' streamed messages, read by one thread per running job: ``(ref, kind, payload)``."""
        self._readers: list[threading.Thread] = []
        self._closed = False

    def cpus(self) -> float:
        """CPUs the Ray cluster (or the private instance) offers in all."""
        return float(self._ray.cluster_resources().get("CPU", 0.0))

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
            gen = actor.run_stream.options(num_returns="streaming").remote(job)
            ref = gen
            reader = threading.Thread(target=self._read_stream, args=(gen,), name=f"lab-ray-{job.name}", daemon=True)
            reader.start()
            self._readers = [t for t in self._readers if t.is_alive()] + [reader]
        self._running[ref] = (token, job, actor)
        return "ray actor" if actor is not None else "ray task"

    def _read_stream(self, gen: Any) -> None:
        # Stop at "done" without asking the generator for more: a Ray call after close()'s shutdown would
        # start a new Ray instance in this thread (Ray initializes itself on first use).
        try:
            for ref in gen:
                kind, payload = self._ray.get(ref)
                self._inbox.put((gen, kind, payload))
                if kind == "done" or self._closed:
                    return
        except self._ray.exceptions.RayError as e:  # the actor died, or was killed
            self._inbox.put((gen, "error", _error_line(e).split(" (pid=")[0]))
        except Exception as e:  # noqa: BLE001 - reported as the job's failure, never lost in a thread
            self._inbox.put((gen, "error", _error_line(e)))

    def _poll_actors(self, timeout: float | None) -> list[_Done | _Output]:
        import queue

        out: list[_Done | _Output] = []
        try:
            messages = [self._inbox.get(timeout=timeout)]
        except queue.Empty:
            return out
        while True:
            try:
                messages.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        for gen, kind, payload in messages:
            if gen not in self._running:  # a cancelled job's late messages
                continue
            token, _job, actor = self._running[gen]
            if kind == "emit":
                out.append(_Output(token, payload))
                continue
            del self._running[gen]
            if kind == "done":
                out.append(_done(token, payload))
                self._idle.append(actor)
            else:
                out.append(_Done(token, False, failure=_Failure(payload, True)))
                self._kill(actor)
        return out

    def poll(self, timeout: float | None) -> list[_Done | _Output]:
        if not self._running:
            return []
        if self._actor_cls is not None:
            return self._poll_actors(timeout)
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
                self._kill(actor, None if actor is not None else ref)

    def close(self) -> None:
        for ref, (_t, _job, actor) in list(self._running.items()):
            self._kill(actor, None if actor is not None else ref)
        for actor in self._idle:
            self._kill(actor)
        self._closed = True
        for reader in self._readers:  # their actors are gone: they end now, before Ray shuts down
            reader.join(timeout=5)
        self._running.clear()
        self._idle.clear()
        if self._owns:
            self._ray.shutdown()


def make_backend(
    name: str, workers: int = 2, *, address: str | None = None, env: dict[str, str] | None = None,
    preload: Iterable[str] = (), persistent: bool = False,
) -> Backend:
    """``inline``, ``local`` or ``ray`` (``address`` only applies to Ray).

    ``persistent``: long-lived workers that run one job after another (local worker processes, Ray actors).
    """
    if address and name != "ray":
        raise LabError(f"--address {address} needs --backend ray (the {name} backend runs on this machine)")
    if name == "inline":
        return InlineBackend()
    if name == "local":
        return LocalBackend(workers, preload=preload, persistent=persistent)
    if name == "ray":
        return RayBackend(workers, address=address, env=env, actors=persistent)
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
        on_output: called as ``on_output(name, attempt, item)`` for each item a job streams with :func:`emit`.
    """

    def __init__(self, backend: Backend, *, bus: EventBus | None = None, retries: int = 1,
                 timeout: float | None = None, on_output: Callable[[str, int, Any], None] | None = None) -> None:
        if retries < 0:
            raise LabError(f"retries: expected 0 or more, got {retries}")
        self.backend = backend
        self.bus = bus or EventBus()
        self.retries = retries
        self.timeout = timeout
        self.on_output = on_output
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
            if isinstance(done, _Output):
                if done.token in self._running and self.on_output is not None:
                    job, attempt, _t0 = self._running[done.token]
                    self.on_output(job.name, attempt, done.item)
                continue
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
