"""Two-player board games for search and self-play (bitboard models, a PettingZoo AEC wrapper).

Adding a game: write one module here with a :class:`~envs.games.base.BitboardGame` subclass (or any
class meeting :class:`lab.game.Game`) and add one line to ``pyproject.toml``::

    [project.entry-points."lab.envs"]
    my_game = "envs.games.my_game:MyGame"

then ``pip install -e .``. ``tests/envs/test_game_contract.py`` runs every registered game through the
contract tests; the search, the players, ``lab play`` and ``lab analyze`` need nothing more.
"""

from envs.games.base import BitboardGame
from envs.games.connect_four import ConnectFour
from envs.games.tictactoe import TicTacToe

__all__ = ["BitboardGame", "ConnectFour", "TicTacToe"]
