"""Self-play tournaments with ratings you can trust: ``lab tournament`` and ``lab ratings``.

Map of the package (one concept per module):

* :mod:`~lab.tournament.schedule`  pairings (round robin, gauntlet), balanced colours, openings that
  are varied by seed (or read from a book) and not already decided.
* :mod:`~lab.tournament.match`     the scheduler job: plays a batch of one pairing's games together
  (``act_many``), appends each finished game.
* :mod:`~lab.tournament.aec`       two-player PettingZoo AEC environments as games (``pettingzoo:...``).
* :mod:`~lab.tournament.gamesfile` ``games.jsonl``: atomic appends, reading with file and line in errors.
* :mod:`~lab.tournament.ratings`   maximum-likelihood Bradley-Terry (Elo scale, draws as half points,
  first-move advantage), 95% intervals, anchors, unrated players, the crosstable.
* :mod:`~lab.tournament.sprt`      the sequential probability ratio test on game pairs (pentanomial).
* :mod:`~lab.tournament.display`   the live display: progress, games/s, ETA, standings.
* :mod:`~lab.tournament.plots`     ``ratings.png`` and ``matrix.png``.
* :mod:`~lab.tournament.report`    ``ratings.json``, ``crosstable.csv``, the printed table, W&B.
* :mod:`~lab.tournament.runner`    ``lab tournament``: the folder, resume, the scheduler loop, SPRT stops.
"""

from lab.tournament.gamesfile import GamesFileError, append_game, read_games
from lab.tournament.ratings import PlayerRating, Ratings, crosstable, fit_ratings
from lab.tournament.report import parse_anchor, print_ratings, rate_files, write_outputs
from lab.tournament.runner import TournamentOptions, TournamentSummary, run_tournament
from lab.tournament.sprt import SprtSpec, SprtStatus, parse_sprt, sprt_status

__all__ = [
    "GamesFileError",
    "PlayerRating",
    "Ratings",
    "SprtSpec",
    "SprtStatus",
    "TournamentOptions",
    "TournamentSummary",
    "append_game",
    "crosstable",
    "fit_ratings",
    "parse_anchor",
    "parse_sprt",
    "print_ratings",
    "rate_files",
    "read_games",
    "run_tournament",
    "sprt_status",
    "write_outputs",
]
