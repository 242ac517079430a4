"""The live table of a sweep (rich): trials in flight, finished ones, the best so far."""

from __future__ import annotations

import sys
import time
from typing import Any

from lab.sweeps.spec import SweepSpec

__all__ = ["SweepTable", "short"]


class SweepTable:
    """Live table of the sweep (rich): trials in flight, finished ones, the best so far."""

    def __init__(self, spec: SweepSpec, total: int, display: bool) -> None:
        self.spec, self.total, self.display = spec, total, display
        self.running: dict[str, tuple[dict, float]] = {}
        self.rows: list[tuple[str, dict, Any, str, float]] = []
        self.best: tuple[str, float] | None = None
        self.live: Any = None

    def start(self) -> None:
        if self.display and sys.stdout.isatty():
            from rich.live import Live

            self.live = Live(get_renderable=self.render, refresh_per_second=2, transient=False)
            self.live.start()

    def render(self) -> Any:
        from rich.table import Table

        done = len(self.rows)
        best = f"; best {self.best[1]:.4g} ({self.best[0]})" if self.best else ""
        table = Table(title=f"sweep {self.spec.name}: {done}/{self.total} done, {len(self.running)} running{best}")
        for col in ("trial", "state", "parameters", self.spec.metric or "", "seconds"):
            table.add_column(col)
        now = time.time()
        for name, (params, t0) in self.running.items():
            table.add_row(name, "running", short(params), "", f"{now - t0:.0f}")
        for name, params, value, state, seconds in self.rows[-12:]:
            star = " *" if self.best and self.best[0] == name else ""
            shown = f"{value:.4g}{star}" if isinstance(value, float) else ""
            table.add_row(name, state, short(params), shown, f"{seconds:.0f}")
        return table

    def started(self, name: str, params: dict) -> None:
        fixed = {p.path for p in self.spec.params if p.fixed}
        self.running[name] = ({k: v for k, v in params.items() if k not in fixed}, time.time())

    def ended(self, name: str, params: dict, value: Any, state: str, seconds: float, error: str,
              best: tuple[str, float] | None) -> None:
        self.running.pop(name, None)
        fixed = {p.path for p in self.spec.params if p.fixed}
        params = {k: v for k, v in params.items() if k not in fixed}
        self.rows.append((name, params, value, state, seconds))
        self.best = best
        if self.live is None and self.display:
            shown = f"{self.spec.metric}={value:.4g}" if isinstance(value, float) else ""
            tail = f" ({error})" if error else ""
            print(f"{name} {state} {shown} in {seconds:.0f} s: {short(params)}{tail}", flush=True)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()


def short(params: dict) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k.split('.')[-1]}={fmt(v)}" for k, v in params.items())
