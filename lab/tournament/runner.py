"""``lab tournament``: plan the games, run them on the scheduler, resume, stop an SPRT early, rate.

The out folder::

    tournament.json   the settings this folder belongs to (game, players, games per pair, seed, ...)
    games.jsonl       one line per finished game (lab.tournament.gamesfile)
    ratings.json      the ratings (lab.tournament.ratings), crosstable.csv, ratings.png, matrix.png
    events.jsonl      the scheduler's job events

The same command again plays only the games missing from ``games.jsonl`` (after Ctrl-C, a crash or
``kill -9``); other settings in an existing folder are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import atomic, locks
from lab.errors import LabError, unknown_name
from lab.events import EventBus
from lab.paths import user_path
from lab.scheduler import Job, Scheduler, make_backend
from lab.registry import PLAYERS
from lab.tournament.gamesfile import GAMES_FILE, GamesTail, append_game, read_numbered, repair_tail
from lab.tournament.match import check_player, load_game
from lab.tournament.ratings import Ratings, crosstable, fit_ratings
from lab.tournament.report import MANIFEST, log_to_wandb, write_outputs
from lab.tournament.schedule import OpeningSource, Slot, pairings, read_book, slots_for
from lab.tournament.sprt import SprtSpec, SprtStatus, parse_sprt, sprt_status

__all__ = ["TournamentOptions", "TournamentSummary", "run_tournament", "parse_players"]

DEFAULT_GAMES_PER_PAIR = 20
SPRT_MAX_GAMES_PER_PAIR = 2000
MAX_BATCH = 64
"""Most games one job plays together by default: on 2 CPU cores 64 AlphaZero games in flight give most
of the gain (benchmarks/tournament_speed.py: 32 games 6.7x, 64 11x, 128 13x one game at a time)."""
_NAME = re.compile(r"^[A-Za-z0-9_.+\-]+$")


@dataclass
class TournamentOptions:
    """``lab tournament`` options (see ``lab tournament --help``)."""

    game: str
    players: list[str]
    """``NAME=SPEC`` (or a bare spec, named by itself)."""
    games_per_pair: int | None = None
    """Games per pairing (even); default 20, or with ``sprt`` the most a pairing may play (2000)."""
    workers: int = 2
    backend: str = "local"
    address: str | None = None
    out: str | None = None
    seed: int = 0
    gauntlet: str | None = None
    sprt: str | None = None
    opening_plies: int = 4
    openings: str | None = None
    """An opening book file (one opening per line) instead of random plies."""
    batch: int | None = None
    """Games per scheduler job (default: by pairing and workers; see :func:`_batch_size`)."""
    device: str = "cpu"
    display: bool = True
    track: bool = False


@dataclass
class TournamentSummary:
    out: Path
    total: int | None
    games: int = 0
    """Games in games.jsonl now."""
    played: int = 0
    """Games played by this session."""
    kept: int = 0
    """Games found in the folder when this session started."""
    ratings: Ratings | None = None
    sprt: SprtStatus | None = None
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    shown_notes: int = 0
    """How many of ``notes`` the live display already printed."""


# --- checking the options ------------------------------------------------------------------------


def parse_players(items: list[str]) -> dict[str, str]:
    """``["a=mcts:50", "random"]`` -> ``{"a": "mcts:50", "random": "random"}``, with one-line errors."""
    players: dict[str, str] = {}
    for item in items:
        name, eq, spec = item.partition("=")
        if not eq:
            name, spec = item, item
        name, spec = name.strip(), spec.strip()
        if not name or not spec:
            raise LabError(f"--player {item!r}: expected NAME=SPEC, e.g. --player m50=mcts:50")
        if not _NAME.match(name):
            raise LabError(f"--player {item}: the name {name!r} may use only letters, digits and _ . + -; "
                           f"give one with NAME=SPEC")
        if name in players:
            raise LabError(f"--player {item}: the name {name!r} is used twice; every player needs its own name")
        players[name] = spec
    if len(players) < 2:
        raise LabError(f"a tournament needs at least two players (got {len(players)}); "
                       f"give --player NAME=SPEC for each, e.g. --player r=random --player m=mcts:50")
    return players


def _check(opts: TournamentOptions) -> tuple[Any, dict[str, str], SprtSpec | None, int]:
    if opts.out is not None:
        user_path("--out", opts.out)  # "" is not the current folder: one line before anything loads
    players = parse_players(opts.players)
    game_cls = load_game(opts.game)
    from lab.players import make_player

    for name, spec in players.items():  # build each once here: a spec that does not load fails now
        try:
            make_player(check_player(spec, game_cls), game_cls, seed=0, device=opts.device)
        except LabError as e:
            raise LabError(f"--player {name}={spec}: {e}") from None
    if opts.gauntlet is not None and opts.gauntlet not in players:
        raise unknown_name("player for --gauntlet", opts.gauntlet, players)
    sprt = parse_sprt(opts.sprt) if opts.sprt is not None else None
    if sprt is not None and opts.gauntlet is None and len(players) != 2:
        raise LabError(f"--sprt tests one player against the others: give exactly two players (got {len(players)}), "
                       f"or --gauntlet NAME")
    gpp = opts.games_per_pair
    if gpp is None:
        gpp = SPRT_MAX_GAMES_PER_PAIR if sprt is not None else DEFAULT_GAMES_PER_PAIR
    if gpp < 1:
        raise LabError(f"--games-per-pair: expected a positive number, got {gpp}")
    if gpp % 2:
        raise LabError(f"--games-per-pair: expected an even number (each opening is played once with each colour), "
                       f"got {gpp}")
    for flag, value in (("--workers", opts.workers), ("--batch", opts.batch)):
        if value is not None and value < 1:
            raise LabError(f"{flag}: expected a positive number, got {value}")
    if opts.opening_plies < 0:
        raise LabError(f"--opening-plies: expected 0 or more, got {opts.opening_plies}")
    return game_cls, players, sprt, gpp


def _manifest(opts: TournamentOptions, players: dict[str, str], sprt: SprtSpec | None, gpp: int) -> dict[str, Any]:
    book = None
    if opts.openings is not None:
        try:
            digest = hashlib.sha256(Path(opts.openings).read_bytes()).hexdigest()[:16]
        except OSError as e:
            raise LabError(f"--openings {opts.openings}: cannot read it ({e.strerror})") from None
        book = {"file": str(opts.openings), "sha256": digest}
    return {
        "game": opts.game,
        "players": [{"name": n, "spec": s} for n, s in players.items()],
        "games_per_pair": gpp,
        "seed": opts.seed,
        "gauntlet": opts.gauntlet,
        "sprt": sprt.text() if sprt else None,
        "opening_plies": None if book else opts.opening_plies,
        "openings": book,
    }


def _describe(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict) and "spec" in value[0]:
        return ", ".join(f"{p['name']}={p['spec']}" for p in value)
    return json.dumps(value)


def _compare(out: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    for key in new:
        if old.get(key) != new[key]:
            raise LabError(f"--out {out} holds another tournament ({key} there: {_describe(old.get(key))}; here: "
                           f"{_describe(new[key])}); use another --out, or the same settings to continue it")


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Create ``out`` and hold it as its one writer (:mod:`lab.locks`, as ``lab train`` and ``lab sweep`` do)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LabError(f"--out {out}: cannot create the folder ({e.strerror})") from None
    with locks.hold(out, "tournament folder"):
        yield


def _open_folder(out: Path, manifest: dict[str, Any]) -> None:
    path = out / MANIFEST
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise LabError(f"{path}: not valid JSON; this folder cannot be continued") from None
        _compare(out, old, manifest)
        return
    others = [p.name for p in out.iterdir() if p.name != locks.LOCK_NAME]
    if others:
        raise LabError(f"--out {out} is not empty and holds no {MANIFEST} (it has {', '.join(sorted(others)[:3])}); "
                       f"give a new folder")
    atomic.write_json(path, manifest)


# --- planning the jobs ---------------------------------------------------------------------------


def _default_out(opts: TournamentOptions, players: dict[str, str]) -> Path:
    game = re.sub(r"[^A-Za-z0-9_.-]+", "_", opts.game)
    return Path("tournaments") / f"{game}-{'-'.join(players)[:80]}"


def _batched(spec: str) -> bool:
    from lab.players import parse_spec

    return hasattr(PLAYERS.load(parse_spec(spec).name), "act_many")


def _batch_size(opts: TournamentOptions, players: dict[str, str], pair: tuple[str, str], missing: int,
                n_pairs: int) -> int:
    """Games per job: when a player batches (``act_many``), a pairing's games split across the workers,
    at most ``MAX_BATCH`` per job; else one opening (2 games) per job, which balances the workers best."""
    if opts.batch is not None:
        return opts.batch
    if not any(_batched(players[p]) for p in pair):
        return 2
    jobs = max(1, math.ceil(opts.workers / n_pairs))
    size = min(MAX_BATCH, math.ceil(missing / jobs))
    return max(2, size + size % 2)


def _job_seed(seed: int, slot: Slot) -> int:
    digest = hashlib.sha256(f"{seed}|{slot.id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _slot_dict(slot: Slot, openings: OpeningSource) -> dict[str, Any]:
    return {"id": slot.id, "first": slot.first, "second": slot.second, "opening_index": slot.opening_index,
            "opening": list(openings[slot.opening_index])}


class _Runner:
    """One session of a tournament: the scheduler loop, the games seen so far, the display."""

    def __init__(self, opts: TournamentOptions, game_cls: Any, players: dict[str, str], sprt: SprtSpec | None,
                 gpp: int, out: Path) -> None:
        self.opts, self.game_cls, self.players, self.sprt, self.gpp, self.out = opts, game_cls, players, sprt, gpp, out
        self.names = list(players)
        self.pairs = pairings(self.names, opts.gauntlet)
        self.games_path = out / GAMES_FILE
        self.games: dict[str, dict[str, Any]] = {}
        self.summary = TournamentSummary(out=out, total=None if sprt else gpp * len(self.pairs))
        self.openings = self._openings()
        self.tested = opts.gauntlet or self.names[0]
        self.job_count = 0
        self.in_flight: dict[str, list[str]] = {}  # job name -> slot ids
        self.display: Any = None

    def _openings(self) -> OpeningSource:
        source = OpeningSource(self.game_cls, plies=self.opts.opening_plies, seed=self.opts.seed)
        if self.opts.openings is None:
            return source
        book, skipped = read_book(self.opts.openings, self.game_cls, source)
        if skipped:
            self.summary.notes.append(f"{skipped} opening(s) in {self.opts.openings} are over or already decided "
                                      f"and are not used")
        return OpeningSource(self.game_cls, plies=0, seed=self.opts.seed, book=book)

    # --- the games file ---------------------------------------------------------------------
    def _valid_ids(self) -> None:
        if repair_tail(self.games_path):
            self.summary.notes.append(f"{self.games_path}: dropped a torn last line (a write cut by a crash)")
        if not self.games_path.exists():
            return
        pairs = set(self.pairs)
        for line, record in read_numbered(self.games_path):
            gid = str(record.get("id", ""))
            parts = gid.split("|")
            ok = (len(parts) == 4 and (parts[0], parts[1]) in pairs and parts[2].isdigit()
                  and int(parts[2]) < self.gpp // 2 and parts[3] in ("0", "1"))
            if not ok:
                raise LabError(f"{self.games_path}:{line}: game {gid or '(no id)'!r} is not part of this tournament")
            if gid in self.games:
                self.summary.notes.append(f"{self.games_path}:{line}: game {gid} appears twice; the first is kept")
                continue
            self.games[gid] = record

    def _absorb(self, records: list[dict[str, Any]], append: bool = False) -> None:
        for r in records:
            if r["id"] in self.games:
                continue
            if append:  # a remote worker that could not write our file
                append_game(self.games_path, r)
            self.games[r["id"]] = r
            self.summary.played += 1

    def standings(self) -> Ratings | None:
        if not self.games:
            return None
        return fit_ratings(list(self.games.values()), order=self.names, specs=self.players)

    def sprt_now(self) -> SprtStatus | None:
        if self.sprt is None:
            return None
        points = []
        for pair in self.pairs:
            for k in range(self.gpp // 2):
                a, b = (self.games.get(s.id) for s in slots_for(pair, k))
                if a is None or b is None:
                    continue
                points.append(sum(g["result"] if g["first"] == self.tested else 1 - g["result"] for g in (a, b)))
        return sprt_status(self.sprt, points)

    # --- jobs -------------------------------------------------------------------------------
    def _job(self, slots: list[Slot], pair: tuple[str, str]) -> Job:
        self.job_count += 1
        name = f"games-{self.job_count:05d}"
        remote = self.opts.backend == "ray" and self.opts.address
        threads = None if self.opts.backend == "inline" else max(1, (os.cpu_count() or 1) // self.opts.workers)
        kwargs = {
            "game": self.opts.game, "specs": {p: self.players[p] for p in pair},
            "slots": [_slot_dict(s, self.openings) for s in slots], "seed": _job_seed(self.opts.seed, slots[0]),
            "games_file": None if remote else str(self.games_path.resolve()), "device": self.opts.device,
            "threads": threads,
        }
        self.in_flight[name] = [s.id for s in slots]
        return Job(name, "lab.tournament.match:play_job", kwargs, cpus=1)

    def planned_jobs(self) -> Iterator[Job]:
        """The missing games, in jobs of one pairing each, opening by opening across the pairings."""
        n_openings = self.gpp // 2
        per_pair: dict[tuple[str, str], list[Slot]] = {}
        for pair in self.pairs:
            per_pair[pair] = [s for k in range(n_openings) for s in slots_for(pair, k) if s.id not in self.games]
        chunks: dict[tuple[str, str], list[list[Slot]]] = {}
        for pair, slots in per_pair.items():
            size = self.opts.batch if self.sprt else _batch_size(self.opts, self.players, pair, len(slots),
                                                                 len(self.pairs))
            size = size or 2
            chunks[pair] = [slots[i:i + size] for i in range(0, len(slots), size)]
        rounds = max((len(c) for c in chunks.values()), default=0)
        for r in range(rounds):
            for pair in self.pairs:
                if r < len(chunks[pair]):
                    yield self._job(chunks[pair][r], pair)

    # --- the loop ---------------------------------------------------------------------------
    def run(self) -> TournamentSummary:
        from lab.eventlog import EventLog
        from lab.tournament.display import TournamentDisplay

        self._valid_ids()
        self.summary.kept = len(self.games)
        status = self.sprt_now()
        mode = f"gauntlet of {self.opts.gauntlet}" if self.opts.gauntlet else "round robin"
        what = f"SPRT {self.sprt.text()} on" if self.sprt else f"{self.gpp} games per pair,"
        title = (f"tournament {self.opts.game}: {len(self.names)} players, {mode}, {what} {len(self.pairs)} pairing(s); "
                 f"folder {self.out}" + (f" ({len(self.games)} games kept)" if self.games else ""))
        self.display = TournamentDisplay(title, self.summary.total, len(self.games), self.standings,
                                         enabled=self.opts.display)
        for note in self.summary.notes:
            self.display.message(f"note: {note}")
        self.summary.shown_notes = len(self.summary.notes) if self.opts.display else 0
        if status is not None and status.decision is not None:
            self.summary.sprt = status
            return self._finish()
        jobs = self.planned_jobs()
        preload = ["lab.tournament.match", *{PLAYERS.get(s.split(":")[0].strip()).target.partition(":")[0]
                                             for s in self.players.values()}]
        bus = EventBus()
        log = EventLog(self.out / "events.jsonl")
        log.attach(bus)
        tail = GamesTail(self.games_path)
        if self.games_path.exists():  # start after what _valid_ids read
            data = self.games_path.read_bytes()
            tail.offset, tail.line = len(data), data.count(b"\n")
        backend = make_backend(self.opts.backend, self.opts.workers, address=self.opts.address, preload=preload)
        sched = Scheduler(backend, bus=bus, retries=1)
        self.display.start()
        try:
            exhausted = False
            while True:
                while not exhausted and sched.free > 0:
                    job = next(jobs, None)
                    if job is None:
                        exhausted = True
                        break
                    sched.submit(job)
                if not self.in_flight:
                    break
                outcome = sched.next_outcome(timeout=0.5)
                self._absorb(tail.read())
                if outcome is not None:
                    self.in_flight.pop(outcome.name, None)
                    if outcome.ok:
                        self._absorb(outcome.result or [], append=True)
                    else:
                        self.summary.failed.append(f"{outcome.name}: {outcome.error}")
                        self.display.message(f"job {outcome.name} failed: {outcome.error}")
                status = self.sprt_now()
                note = ""
                if status is not None:
                    note = f"LLR {status.llr:+.2f} [{status.spec.bounds[0]:.2f}, {status.spec.bounds[1]:.2f}]"
                self.display.update(len(self.games), note)
                if status is not None and status.decision is not None:
                    break
        except KeyboardInterrupt:
            self.summary.interrupted = True
        finally:
            self.display.stop()
            sched.close()
            log.close()
        self._absorb(tail.read())
        self.summary.sprt = self.sprt_now()
        return self._finish()

    def _finish(self) -> TournamentSummary:
        games = list(self.games.values())
        self.summary.games = len(games)
        if not games:
            return self.summary
        ratings = self.standings()
        self.summary.ratings = ratings
        extra: dict[str, Any] = {"tournament": json.loads((self.out / MANIFEST).read_text(encoding="utf-8"))}
        if self.summary.sprt is not None:
            extra["sprt"] = self.summary.sprt.to_json()
        assert ratings is not None
        write_outputs(self.out, ratings, crosstable(games, self.names), extra)
        if self.opts.track:
            warning = log_to_wandb(self.out, ratings, self.out.name, extra["tournament"])
            if warning:
                self.summary.notes.append(warning)
        return self.summary


def run_tournament(opts: TournamentOptions) -> TournamentSummary:
    """Run (or continue) a tournament; see the module docstring for the folder it writes."""
    game_cls, players, sprt, gpp = _check(opts)
    manifest = _manifest(opts, players, sprt, gpp)
    out = user_path("--out", opts.out) if opts.out is not None else _default_out(opts, players)
    with _locked(out):
        _open_folder(out, manifest)
        return _Runner(opts, game_cls, players, sprt, gpp, out).run()
