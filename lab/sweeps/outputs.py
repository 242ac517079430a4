"""A sweep's result files: ``results.csv``, ``best.yaml`` and the plots, rewritten as trials end."""

from __future__ import annotations

import csv
import io
from typing import Any

from lab import atomic
from lab.errors import warn
from lab.runs import RunDir
from lab.sweeps.folder import SweepDir, trial_name
from lab.sweeps.spec import SweepSpec
from lab.sweeps.study import STATE, best_trial, counted, slot

__all__ = ["rows", "write_outputs"]


def rows(spec: SweepSpec, study: Any) -> list[dict[str, Any]]:
    """One row per counted trial, by slot: trial, each parameter, the metric, state, seconds, error."""
    out = []
    for t in study.get_trials(deepcopy=False):
        if not counted(t):
            continue
        params = t.user_attrs.get("params", {})
        value = t.value if t.value is not None else (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
        )
        row: dict[str, Any] = {"trial": slot(t)}
        for p in spec.params:
            row[p.path] = params.get(p.path)
        if spec.metric is None:  # what the trial logged: the last value of each metric
            row.update(t.user_attrs.get("summary", {}))
        else:
            row[spec.metric] = value
        row["state"] = STATE[t.state.name]
        row["seconds"] = t.user_attrs.get("seconds")
        row["error"] = t.user_attrs.get("error", "")
        out.append(row)
    return sorted(out, key=lambda r: r["trial"])


def write_outputs(spec: SweepSpec, study: Any, folder: SweepDir, plots: bool = True, best: Any = None) -> None:
    """results.csv, best.yaml and (with ``plots``) the PNGs; ``best``: :func:`best_trial` when the caller has it."""
    table = rows(spec, study)
    buf = io.StringIO()
    params = [p.path for p in spec.params]
    if spec.metric is None:
        logged = sorted({k for row in table for k in row} - {"trial", "state", "seconds", "error", *params})
    else:
        logged = [spec.metric]
    fields = ["trial", *params, *logged, "state", "seconds", "error"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", restval="")
    writer.writeheader()
    for row in table:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    atomic.write_text(folder.results_path, buf.getvalue())
    if spec.metric is None:  # nothing to rank trials by: no best.yaml, no metric plots
        return
    best = best if best is not None else best_trial(study)
    if best is not None:
        _write_best(spec, study, folder, *best)
    if table and plots:
        from lab.sweeps.plots import metric_plot, parallel_plot

        try:
            metric_plot(table, spec, folder.trials_plot_path)
            parallel_plot(table, spec, folder.parallel_plot_path)
        except (OSError, ValueError) as e:  # a full disk, values matplotlib cannot place: the sweep goes on
            warn(f"sweep plots not drawn ({type(e).__name__}: {str(e)[:200]})")


def _write_best(spec: SweepSpec, study: Any, folder: SweepDir, name: str, value: float) -> None:
    """``best.yaml``: the best trial's run config (``lab train --config`` runs it), else its parameters."""
    cfg_path = RunDir(folder.trial_dir(name)).config_path
    if cfg_path.exists():
        body = [line for line in cfg_path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
        header = [f"# best trial of sweep {spec.name!r}: {name}, {spec.metric} = {value:.6g}",
                  f"# lab train --config {folder.best_path}  runs it again"]
        atomic.write_text(folder.best_path, "\n".join(header + body) + "\n")
        return
    import yaml

    params = next((t.user_attrs.get("params", {}) for t in study.get_trials(deepcopy=False)
                   if trial_name(slot(t)) == name), {})
    atomic.write_text(folder.best_path, f"# best trial {name}: {spec.metric} = {value:.6g}\n"
                      + yaml.safe_dump(params, sort_keys=False))
