"""Writing ratings out: ``ratings.json``, ``crosstable.csv``, the printed table, the PNGs, a W&B table.

``lab ratings`` and ``lab tournament`` (at its end) both call :func:`rate_files` / :func:`write_outputs`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab import atomic
from lab.errors import LabError
from lab.tournament.gamesfile import read_games
from lab.tournament.ratings import Ratings, crosstable, fit_ratings, player_order

__all__ = ["MANIFEST", "parse_anchor", "rate_files", "write_outputs", "elo", "ratings_table", "footer", "print_ratings",
           "log_to_wandb"]

MANIFEST = "tournament.json"
CROSSTABLE_FIELDS = ["player", "opponent", "games", "score", "score_pct", "as_first_games", "as_first_score",
                     "as_second_games", "as_second_score"]


def parse_anchor(text: str | None) -> tuple[str, float] | None:
    """``NAME=RATING`` (``--anchor m50=1500``)."""
    if text is None:
        return None
    name, eq, value = text.partition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = float("nan")
    if not eq or not name.strip() or rating != rating:
        raise LabError(f"--anchor {text}: expected NAME=RATING, e.g. --anchor random=0")
    return name.strip(), rating


def _order(files: Sequence[Path], games: list[dict[str, Any]]) -> list[str]:
    """Players in the order their tournament listed them (tournament.json beside a file), else as met."""
    names: list[str] = []
    for f in files:
        manifest = f.parent / MANIFEST
        if manifest.exists():
            try:
                listed = [p["name"] for p in json.loads(manifest.read_text(encoding="utf-8"))["players"]]
            except (ValueError, KeyError, TypeError):
                listed = []
            names.extend(n for n in listed if n not in names)
    names.extend(n for n in player_order(games) if n not in names)
    played = set(player_order(games))
    return [n for n in names if n in played]


def rate_files(files: Sequence[str | os.PathLike],
               anchor: tuple[str, float] | None = None) -> tuple[Ratings, list[dict[str, Any]]]:
    """Read and merge games files, fit the ratings; returns ``(ratings, crosstable rows)``."""
    paths = [Path(f) for f in files]
    games: list[dict[str, Any]] = []
    for p in paths:
        games.extend(read_games(p))
    if not games:
        raise LabError(f"no games in {', '.join(map(str, paths))}")
    order = _order(paths, games)
    return fit_ratings(games, order=order, anchor=anchor), crosstable(games, order)


def write_outputs(out: str | os.PathLike, ratings: Ratings, rows: list[dict[str, Any]],
                  extra: dict[str, Any] | None = None, plots: bool = True) -> list[Path]:
    """``ratings.json`` (+ ``extra`` keys), ``crosstable.csv`` and (``plots``) ``ratings.png``, ``matrix.png``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_json(out / "ratings.json", {**ratings.to_json(), **(extra or {})})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CROSSTABLE_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic.write_text(out / "crosstable.csv", buf.getvalue())
    written = [out / "ratings.json", out / "crosstable.csv"]
    if plots and ratings.players:
        from lab.tournament.plots import matrix_plot, ratings_plot

        written.append(ratings_plot(ratings, out / "ratings.png"))
        written.append(matrix_plot(rows, [p.name for p in ratings.players] + [u["name"] for u in ratings.unrated
                                                                                if u["games"]], out / "matrix.png"))
    return written


def elo(x: float) -> str:
    """``+120``, ``-35``, ``+0`` (never ``-0``)."""
    text = f"{x:+.0f}"
    return "+0" if text == "-0" else text


def ratings_table(ratings: Ratings, title: str | None = None) -> Any:
    """A rich table: rank, player, Elo, 95% interval, games, W/D/L, score."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col, justify in (("#", "right"), ("player", "left"), ("spec", "left"), ("Elo", "right"),
                         ("95% interval", "right"), ("games", "right"), ("W/D/L", "right"), ("score", "right")):
        table.add_column(col, justify=justify)
    for rank, p in enumerate(ratings.players, start=1):
        interval = f"{elo(p.ci_low)}..{elo(p.ci_high)}" if p.ci_high > p.ci_low else "anchor"
        table.add_row(str(rank), p.name, p.spec, elo(p.rating), interval, str(p.games),
                      f"{p.wins}/{p.draws}/{p.losses}", f"{100 * p.score:.1f}%")
    return table


def footer(ratings: Ratings) -> list[str]:
    """Lines under the table: first-move advantage, anchor, unrated players."""
    lo, hi = ratings.first_move_advantage_ci
    lines = [f"first-move advantage {elo(ratings.first_move_advantage)} Elo (95% {elo(lo)} .. {elo(hi)}); "
             f"anchor {ratings.anchor['name']} = {ratings.anchor['rating']:g}; {ratings.games} games"]
    for u in ratings.unrated:
        lines.append(f"not rated: {u['name']} ({u['games']} games; {u['reason']})")
    return lines


def log_to_wandb(out: Path, ratings: Ratings, name: str, config: dict[str, Any]) -> str | None:
    """One W&B run with the ratings table and plot (offline without an API key); returns a warning or None."""
    try:
        import wandb

        from lab.training.tracking import WandbConfig, resolve_mode

        run = wandb.init(project="lab", name=name, job_type="ratings", dir=str(out), config=config,
                         mode=resolve_mode(WandbConfig()),
                         settings=wandb.Settings(silent=True, console="off", x_disable_stats=True))
        columns = ["rank", "name", "spec", "rating", "ci_low", "ci_high", "games", "wins", "draws", "losses", "score"]
        data = [[i, p.name, p.spec, p.rating, p.ci_low, p.ci_high, p.games, p.wins, p.draws, p.losses, p.score]
                for i, p in enumerate(ratings.players, start=1)]
        table = wandb.Table(columns=columns, data=data)
        logged: dict[str, Any] = {"ratings": table,
                                  "ratings_plot": wandb.plot.bar(table, "name", "rating", title="Elo")}
        if (out / "ratings.png").exists():
            logged["ratings_png"] = wandb.Image(str(out / "ratings.png"))
        run.log(logged)
        run.summary["first_move_advantage"] = ratings.first_move_advantage
        run.finish()
    except Exception as e:  # noqa: BLE001 - W&B never stops a tournament
        text = str(e).strip().splitlines()
        return f"W&B logging failed ({text[0][:200] if text else type(e).__name__}); the files are written"
    return None


def print_ratings(ratings: Ratings, title: str | None = None, file: Any = None) -> None:
    """Print the table and its footer (stdout)."""
    from rich.console import Console

    console = Console(file=file or sys.stdout, soft_wrap=True)
    console.print(ratings_table(ratings, title))
    for line in footer(ratings):
        console.print(line, highlight=False)
