"""PPO self-play for the lab's two-player board games (``lab train ppo tictactoe``).

    config.py   LeagueConfig: the opponent pool's settings (``agent.league`` in a run's config)
    env.py      SelfPlayEnv: one game as a single-agent Gymnasium env with action masks; the opponent
                moves inside ``step``
    league.py   League: the pool of frozen snapshots and fixed players, admission, sampling (uniform or
                prioritized fictitious self-play), results and ratings
    policy.py   PolicyNet: a frozen MaskablePPO policy that picks moves (opponents, ``ppo:RUN_DIR``)
    agent.py    SelfPlayPPO: the PPO agent on a board game (MaskablePPO from sb3-contrib, the league)
    player.py   PPOPlayer: ``ppo:RUN_DIR`` in ``lab play``, ``lab analyze``, ``lab tournament``

Modules are imported where they are used (``agents.sb3.config`` reads ``config.py`` only).
"""
