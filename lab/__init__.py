"""The lab's core: a map of the package (this file imports nothing, so ``lab --help`` starts fast).

Core
    errors.py      LabError and friends (one readable line, exit code 2), ``warn`` (one line on stderr)
    atomic.py      write files through a temporary file and a rename
    registry.py    name -> lazy ``"module:attr"`` plugins (agents, envs, generators, data sets, players)
    config.py      typed dataclass configs: YAML in and out, ``--set``, errors with file and line
    events.py      the event bus and the run lifecycle events
    eventlog.py    ``events.jsonl``: the durable record of a run

Guards every command shares (new commands reuse them)
    locks.py       one writer per run or sweep folder: an ``fcntl`` lock naming its holder
    paths.py       user paths and folder names checked (empty, too long, ``/proc``, ``..``)
    limits.py      numbers checked: finite, seeds numpy accepts, int64 counters, available memory
    crashlog.py    an unexpected exception: one line, the traceback in a log file (``LAB_DEBUG=1`` shows it)

The plugin API (what ``agents/``, ``envs/`` and ``generators/`` import)
    agent.py       the agent contract, its optional capabilities, TrainContext, Budget
    generator.py   the generator contract (diffusion, VAE, GAN plugins), parallel to agent.py
    envs.py        environment names -> EnvInfo (Gymnasium ids, lab envs, ``module:Class``)
    evaluation.py  deterministic evaluation: the periodic evaluator, ``eval.json``
    game.py        the two-player board-game protocol
    players.py     player specs (``mcts:400``) and games between players
    runs.py        run folders, checkpoints (written atomically, loaded safely and validated)
    images.py      image grids to PNG

Machinery
    device.py      resolve_device
    scheduler.py   jobs on inline, local-process or Ray backends (sweep trials, tournament games; self-play next)
    cli.py         the ``lab`` command line (thin: parses options, calls the packages below)
    sampling.py    ``lab sample`` and ``lab eval`` of generator runs
    training/      ``lab train`` and ``lab eval``: config layers, the run, checkpoints, W&B, progress, plots, video,
                   and generator runs' sample grids and sample metrics (training/samples.py)
    sweeps/        ``lab sweep``: the W&B sweep format on Optuna, one scheduler job per trial
    tournament/    ``lab tournament`` and ``lab ratings``: openings, match jobs, games file, Elo fit, SPRT

``train.py``, ``sweep.py`` and ``jobs.py`` only re-export ``lab.training``, ``lab.sweeps`` and
``lab.scheduler`` for code written against the old paths.
"""
