"""``lab sweep --engine wandb``: W&B's own sweep controller (on its server) with local agents as scheduler jobs."""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import LabError
from lab.scheduler import Job, Scheduler, make_backend
from lab.sweeps.folder import SweepDir
from lab.sweeps.options import SweepOptions, SweepSummary
from lab.sweeps.spec import SweepSpec
from lab.sweeps.trials import run_train_trial, worker_env

__all__ = ["run_wandb_engine", "wandb_agent"]


def run_wandb_engine(spec: SweepSpec, opts: SweepOptions) -> SweepSummary:
    """``--engine wandb``: a real W&B sweep (its controller runs on W&B's servers) with local agents."""
    from lab.training.tracking import api_key_configured

    if not api_key_configured() or os.environ.get("WANDB_MODE") in ("offline", "dryrun", "disabled"):
        raise LabError(
            "--engine wandb needs a W&B API key and the network (W&B's sweep controller runs on its server; "
            "no key is configured or WANDB_MODE is offline); the default --engine optuna runs the same file offline"
        )
    if spec.program is not None:
        raise LabError("--engine wandb runs lab train trials only; use the default --engine optuna for a program: sweep")
    import wandb

    sweep_id = wandb.sweep(dict(spec.raw), project=spec.project or "lab", entity=spec.entity)
    count = opts.trials or spec.run_cap
    out = Path(opts.out or Path("sweeps") / spec.name)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [Job(f"agent-{i}", "lab.sweeps.wandb_engine:wandb_agent",
                {"sweep_id": sweep_id, "project": spec.project or "lab", "entity": spec.entity,
                 "count": None if count is None else -(-count // opts.workers), "metric": spec.metric,
                 "out": str(out.resolve())}, env=worker_env())
            for i in range(opts.workers)]
    with Scheduler(make_backend(opts.backend, opts.workers, address=opts.address), retries=0) as sched:
        for job in jobs:
            sched.submit(job)
        failed = [o for o in sched.drain() if not o.ok]
    if failed:
        raise LabError(f"W&B agent failed: {failed[0].error}")
    return SweepSummary(out=out, total=count or 0)


def wandb_agent(*, sweep_id: str, project: str, entity: str | None, count: int | None, metric: str, out: str) -> None:
    import wandb

    def one() -> None:
        run = wandb.init()
        params = dict(run.config)
        run_dir = SweepDir(out).trial_dir(run.id)
        result = run_train_trial(run_dir=str(run_dir), params=params, metric=metric, sweep=sweep_id,
                                 project=project, entity=entity, threads=None, track=False)
        run.log({metric: result["value"]})
        run.finish()

    wandb.agent(sweep_id, function=one, project=project, entity=entity, count=count)
