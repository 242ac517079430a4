"""Which vectorized environment to step: in-process (``dummy``) or one subprocess per env (``subproc``).

Measured with ``benchmarks/vec_envs.py`` on a 2-core machine (README, Benchmarks; random actions):
HalfCheetah-v5 steps at 3.3-8.5k steps/s in-process and 0.26-3.2k in subprocesses at every count
from 1 to 8 (a MuJoCo step is too cheap to pay for the pipe); Breakout-v5 (the lab's Atari wrappers
and frame stack) in-process wins at 1, 2 and 4 envs and subprocesses only at 8 (873 vs 713 steps/s),
after 35 s of worker start-up, with nothing left over for the learner on two cores. So ``auto``
keeps environments in-process, except Atari ids with at least 4 envs on machines with at least
:data:`MIN_CPUS_FOR_SUBPROC` usable cores, where emulation is the expensive part and cores are spare.
``envpool`` (:mod:`agents.sb3.envpool_vec`, 1.2-5.7x in-process stepping in the same benchmark) is used
only when asked for: it is an optional package, and its environments' random streams are not Gymnasium's.
"""

from __future__ import annotations

import os

from lab.envs import EnvInfo

__all__ = ["choose_vec", "usable_cpus", "MIN_CPUS_FOR_SUBPROC"]

MIN_CPUS_FOR_SUBPROC = 4


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def choose_vec(vec: str, env: EnvInfo, n_envs: int) -> str:
    """``dummy``, ``subproc`` or ``envpool`` for ``vec`` (``auto`` decides as the module docstring says)."""
    if vec != "auto":
        return vec
    if n_envs >= 4 and env.atari and usable_cpus() >= MIN_CPUS_FOR_SUBPROC:
        return "subproc"
    return "dummy"
