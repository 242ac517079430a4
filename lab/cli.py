"""The ``lab`` command line. Commands stay thin: they parse options and call the core.

Bad input (a :class:`lab.errors.LabError`) prints one line on stderr and exits with code 2.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import typer

from lab.errors import LabError
from lab.limits import check_options

app = typer.Typer(
    name="lab",
    help="Train RL agents and generative models, run self-play and sweeps, from one command.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn bad input into one line on stderr and exit code 2 (no traceback)."""
    try:
        yield
    except LabError as e:
        _err(f"error: {e}")
        raise typer.Exit(2) from None


def _err(line: str) -> None:
    """One line on stderr, whatever the characters (a non-UTF-8 argument echoed back must not crash)."""
    typer.echo(line.encode("utf-8", "backslashreplace").decode("utf-8"), err=True)


# --- lab train -----------------------------------------------------------------------------------

_AZ = "AlphaZero (board games)"


@app.command(no_args_is_help=False)
def train(
    algo: Optional[str] = typer.Argument(
        None, help="Agent (dqn, ppo, sac, ...: `lab list agents`) or generator (diffusion, vae, gan, dynamics)."
    ),
    env: Optional[str] = typer.Argument(
        None, help="Gymnasium id (CartPole-v1), lab environment, module:Class; for generators a data set "
        "(digits, folder:PATH, rollouts:ENV_ID)."
    ),
    steps: Optional[int] = typer.Option(None, "--steps", help="Environment (generators: optimizer) steps (default: the tuned budget)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Batch size (agents with one, and generators)."),
    resize: bool = typer.Option(False, "--resize", help="folder:PATH data sets: resize images of mixed sizes."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default 0)."),
    n_envs: Optional[int] = typer.Option(None, "--n-envs", help="Environments stepped together."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda (default auto)."),
    run_dir: Optional[str] = typer.Option(None, "--run-dir", help="Run folder (default runs/ALGO-ENV-TIME)."),
    config: Optional[str] = typer.Option(None, "--config", help="YAML config (a run's config.yaml reproduces it)."),
    sets: list[str] = typer.Option([], "--set", help="Override a config key: --set agent.learning_rate=3e-4 (repeatable)."),
    hyperparams: Optional[str] = typer.Option(
        None, "--hyperparams", help="rl-baselines3-zoo hyperparameter YAML: its entry for ENV over SB3's defaults."
    ),
    gym_packages: list[str] = typer.Option(
        [], "--gym-packages", help="Import this package first (it registers ENV's id), e.g. minigrid (repeatable)."
    ),
    vec: Optional[str] = typer.Option(None, "--vec", help="Environment workers: auto, dummy, subproc or envpool (default auto)."),
    tensorboard: Optional[bool] = typer.Option(
        None, "--tensorboard/--no-tensorboard", help="Also write TensorBoard scalars under RUN/tb/."
    ),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Steps between checkpoints."),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", help="Steps between evaluations."),
    eval_episodes: Optional[int] = typer.Option(None, "--eval-episodes", help="Episodes per evaluation (default 10)."),
    track: Optional[bool] = typer.Option(None, "--track/--no-track", help="Log to W&B (offline without an API key)."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue this run folder from its latest checkpoint."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="Training time budget.", rich_help_panel=_AZ),
    iterations: Optional[int] = typer.Option(None, "--iterations", help="Self-play iterations.", rich_help_panel=_AZ),
    games_per_iteration: Optional[int] = typer.Option(
        None, "--games-per-iteration", help="Self-play games per iteration (per actor with --workers).",
        rich_help_panel=_AZ
    ),
    simulations: Optional[int] = typer.Option(None, "--simulations", help="MCTS simulations per move.", rich_help_panel=_AZ),
    workers: Optional[int] = typer.Option(
        None, "--workers", help="Self-play actors, one per core at most (default 1: in the training process).",
        rich_help_panel=_AZ,
    ),
    backend: Optional[str] = typer.Option(
        None, "--backend", help="Where self-play actors run: local (processes) or ray.", rich_help_panel=_AZ
    ),
    address: Optional[str] = typer.Option(
        None, "--address", help="Ray cluster for the actors (HOST:PORT or auto; default: a private local one).",
        rich_help_panel=_AZ,
    ),
) -> None:
    """Train an agent or a generator: `lab train ppo CartPole-v1`, `lab train diffusion digits`, `lab train --resume RUN`.

    Examples:

      lab train ppo CartPole-v1 --steps 100000 --seed 0

      lab train diffusion digits --seed 0        (also: vae, gan; folder:PATH, rollouts:CartPole-v1)

      lab train sac Pendulum-v1 --set agent.learning_rate=3e-4 --no-track

      lab train dqn CartPole-v1 --hyperparams rl-zoo/dqn.yml

      lab train ppo ALE/Breakout-v5 --steps 1000000 --tensorboard

      lab train ppo minigrid:MiniGrid-Empty-5x5-v0

      lab train --config runs/ppo-CartPole-v1-20261124-101500/config.yaml

      lab train alphazero connect_four --workers 2 --minutes 20    (also --backend ray [--address HOST:PORT])
    """
    from lab import training
    from lab.paths import user_path, writable_path

    with user_errors():
        check_options(
            steps=steps, seed=seed, n_envs=n_envs, checkpoint_every=checkpoint_every, eval_every=eval_every,
            eval_episodes=eval_episodes, minutes=minutes, iterations=iterations,
            games_per_iteration=games_per_iteration, simulations=simulations, workers=workers,
        )
        for flag, path in (("--config", config), ("--hyperparams", hyperparams), ("--resume", resume)):
            if path is not None:
                user_path(flag, path)
        if run_dir is not None:
            writable_path("--run-dir", run_dir)
        if resume is not None:
            given = [
                name
                for name, value in {
                    "ALGO": algo, "ENV": env, "--config": config, "--set": sets, "--hyperparams": hyperparams,
                    "--steps": steps, "--seed": seed, "--n-envs": n_envs, "--run-dir": run_dir,
                    "--gym-packages": gym_packages, "--vec": vec, "--batch-size": batch_size, "--resize": resize,
                    "--workers": workers, "--backend": backend, "--address": address,
                }.items()
                if value
            ]
            if given:
                raise LabError(f"--resume continues a run with its own config.yaml; drop {', '.join(given)}")
            result = training.resume(resume, display=not quiet)
        else:
            notes: list[str] = []
            sources: dict[str, str] = {}
            cfg = training.resolve_config(
                algo=algo,
                env=env,
                config_file=str(config) if config else None,
                hyperparams=str(hyperparams) if hyperparams else None,
                sets=[*(["data.resize=true"] if resize else []), *sets],
                flags={
                    "steps": steps, "seed": seed, "device": device, "checkpoint_every": checkpoint_every,
                    "eval_every": eval_every, "eval_episodes": eval_episodes, "track": track,
                    "tensorboard": tensorboard, "gym_packages": gym_packages or None,
                },
                agent_flags={
                    "n_envs": n_envs, "vec": vec, "batch_size": batch_size, "minutes": minutes,
                    "iterations": iterations,
                    "games_per_iteration": games_per_iteration, "simulations": simulations, "workers": workers,
                    "backend": backend, "address": address,
                },
                notes=notes,
                sources=sources,
            )
            for note in notes:
                typer.echo(f"note: {note}", err=True)
            result = training.train(cfg, run_dir=run_dir, display=not quiet, sources=sources)
    if result.status == "stopped":
        _err(
            f"stopped at step {result.step:,} ({result.reason}); checkpoint saved. "
            f"Resume with: lab train --resume {result.run_dir}"
        )
        raise typer.Exit(130 if result.reason in ("Ctrl-C", "SIGTERM") else 0)
    if result.reason == "already finished":
        typer.echo(f"{result.run_dir} already finished at step {result.step:,}; nothing to do")
        return
    ev = result.eval or {}
    if "perfect_rate" in ev:  # a level data set (mazes): level metrics instead of image features
        typer.echo(
            f"finished {result.step:,} steps in {result.seconds:.0f} s: perfect {ev['perfect_rate']:.1%}, solvable "
            f"{ev['solvable_rate']:.1%}, duplicates {ev['duplicate_rate']:.1%}, path KS {ev['path_ks']:.3f} over "
            f"{ev['n']} samples; run folder {result.run_dir}"
        )
        return
    if "fd" in ev:
        k = ev.get("classes")
        cov = f", coverage {ev['coverage']}/{k}" if ev.get("coverage") is not None else ""
        typer.echo(
            f"finished {result.step:,} steps in {result.seconds:.0f} s: fd {ev['fd']:.4g} (held-out real "
            f"{ev['fd_real']:.4g}, GMM {ev['fd_gmm']:.4g}){cov}, copy rate {ev['copy_rate']:.1%} over {ev['n']} "
            f"samples; run folder {result.run_dir}"
        )
        return
    if "one_step" in ev:  # a world model
        typer.echo(f"finished {result.step:,} steps in {result.seconds:.0f} s: one-step error {ev['one_step']:.3g}, "
                   f"open-loop 20 {ev.get('open_loop_20') or float('nan'):.3g} (no change "
                   f"{ev.get('open_loop_20_no_change') or float('nan'):.3g}) on {ev['n']} held-out trajectories; "
                   f"run folder {result.run_dir}")
        return
    untrained = " (no update was made: this is the untrained initial policy)" if result.updates == 0 else ""
    updates = f", {result.updates:,} updates" if result.updates else ""
    typer.echo(
        f"finished {result.step:,} steps{updates} in {result.seconds:.0f} s: eval "
        f"{ev.get('mean_return', float('nan')):.2f} ± {ev.get('std_return', float('nan')):.2f} over "
        f"{ev.get('episodes', 0)} episodes{untrained}; run folder {result.run_dir}"
    )


# --- lab eval ------------------------------------------------------------------------------------


@app.command("eval")
def eval_(
    run_dir: str = typer.Argument(..., help="Run folder."),
    episodes: Optional[int] = typer.Option(None, "--episodes", "-n", help="Agent runs: episodes to evaluate (default 10)."),
    video: bool = typer.Option(False, "--video", help="Agent runs: also write one episode as a video (MP4, or GIF)."),
    samples: Optional[int] = typer.Option(
        None, "--n", help="Generator runs: samples to score (default 1000: the run's eval_samples)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Evaluation seed (default: the run's seed)."),
    env: Optional[str] = typer.Option(
        None, "--env", help="Evaluate on this environment instead of the run's (same spaces): --env maze-13:procedural."
    ),
    levels: Optional[str] = typer.Option(None, "--levels", help="Levels of evaluation episodes: held-out, train (mazes)."),
) -> None:
    """Evaluate a run's final model and write eval.json.

    Agent runs: deterministic episodes, mean ± std of the return (and the success rate where the env
    defines one). Generator runs: offline sample metrics (fd, kid, precision, recall, coverage,
    class_accuracy, copy_rate) beside the held-out real split and a GMM baseline; diffusion runs add a
    DDIM 10/25/50 and DDPM 1000 sample-steps table.

    Example: lab eval runs/ppo-maze --env maze-13:procedural --levels held-out --episodes 200
    """
    from lab.paths import user_path
    from lab.runs import RunDir
    from lab.sampling import evaluate_generator_run, format_eval, run_kind
    from lab.training import evaluate_run

    with user_errors():
        user_path("RUN_DIR", run_dir)
        check_options(episodes=episodes, seed=seed)
        kind, cfg = run_kind(run_dir)
        if kind == "generator":
            wrong = [
                flag for flag, v in (("--episodes", episodes), ("--video", video), ("--env", env), ("--levels", levels)) if v
            ]
            if wrong:
                raise LabError(f"{' and '.join(wrong)}: {run_dir} is a {cfg.algo} generator run, which is scored "
                               f"on samples: lab eval {run_dir} --n 1000")
            result = evaluate_generator_run(run_dir, n=samples, seed=seed, device=device)
        else:
            if samples is not None:
                raise LabError(f"--n: {run_dir} is a {cfg.algo} agent run; evaluate it over episodes: "
                               f"lab eval {run_dir} --episodes 10")
            event, extra = evaluate_run(
                str(run_dir), episodes=episodes or 10, video=video, device=device, seed=seed, env_id=env, levels=levels
            )
    if kind == "generator":
        typer.echo(format_eval(result))
        what = "held-out trajectories" if result.get("kind") == "world_model" else "samples"
        typer.echo(f"{result['n']} {what} at step {result['step']:,} in {result['seconds']:.0f} s; "
                   f"wrote {RunDir(run_dir).eval_path}")
        return
    rates = ""
    if "success_rate" in extra:
        rates = f", success rate {extra['success_rate']:.3f}"
    if "mean_length" in extra:
        rates += f", mean length {extra['mean_length']:.1f}"
    wrote = f"not written: {extra['not_written']}" if "not_written" in extra else f"wrote {RunDir(run_dir).eval_path}"
    untrained = "; no update was made: this is the untrained initial policy" if extra.get("updates") == 0 else ""
    typer.echo(
        f"mean return {event.mean_return:.2f} ± {event.std_return:.2f} over {event.episodes} episodes{rates} "
        f"(step {extra['step']:,}{untrained}); {wrote}"
    )
    if "not_written" in extra:
        _err(f"warning: {extra['not_written']}")
    if "video" in extra:
        typer.echo(f"video: {extra['video']}")


# --- lab sample ----------------------------------------------------------------------------------


@app.command()
def sample(
    run_dir: Path = typer.Argument(..., help="A generator run folder."),
    n: int = typer.Option(64, "--n", help="Samples to draw (generated in batches)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for samples.npy and grid.png."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Diffusion: denoising steps (default: the run's)."),
    sampler: Optional[str] = typer.Option(None, "--sampler", help="Diffusion: ddim (default) or ddpm."),
    class_: Optional[int] = typer.Option(None, "--class", help="Class-conditional models: draw only this class."),
    guidance: Optional[float] = typer.Option(None, "--guidance", help="Classifier-free guidance weight (1: none)."),
    interpolate: Optional[str] = typer.Option(None, "--interpolate", help="VAE: A,B: a latent interpolation between "
                                              "held-out images A and B."),
    rollout: Optional[int] = typer.Option(None, "--rollout", help="World models: held-out real trajectory K beside "
                                          "N dreams along its actions (OUT/rollout.png, rollout.npz)."),
    prior: Optional[str] = typer.Option(None, "--prior", help="VAE: decode draws from gmm (a mixture fitted to the "
                                        "training codes) or normal (N(0, I)); default: the run's."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
) -> None:
    """Draw samples from a generator run: OUT/samples.npy ((N, C, H, W) float32 in [0, 1]) and OUT/grid.png.
    World models: real vs dreamed (lab sample runs/dynamics-CartPole --rollout 0 --n 5 --out strip/).

    Examples:

      lab sample runs/diffusion-digits --n 1000 --out samples/

      lab sample runs/diffusion-digits --n 64 --class 3 --guidance 2 --sampler ddim --steps 50 --out threes/

      lab sample runs/vae-digits --n 16 --interpolate 0,5 --out walk/

      lab sample runs/vae-digits --n 64 --prior normal --out from-the-prior/
    """
    from lab.paths import user_path
    from lab.sampling import sample_run

    with user_errors():
        user_path("RUN_DIR", run_dir)
        if sampler is not None and sampler not in ("ddim", "ddpm"):
            raise LabError(f"--sampler {sampler}: expected ddim or ddpm")
        if steps is not None and steps < 1:
            raise LabError(f"--steps: expected a positive number, got {steps}")
        if prior is not None and prior not in ("gmm", "normal"):
            raise LabError(f"--prior {prior}: expected gmm or normal")
        done = sample_run(run_dir, out, n=n, seed=seed, device=device, steps=steps, sampler=sampler,
                          class_=class_, guidance=guidance, interpolate=interpolate, rollout=rollout, prior=prior)
    typer.echo(f"{done['n']} samples {tuple(done['shape'])} in {done['seconds']:.1f} s: {done['samples']}, {done['grid']}")


# --- lab dream (learned world models) -------------------------------------------------------------


@app.command()
def dream(
    env: str = typer.Argument(..., help="The real environment (vector observations: CartPole-v1, Acrobot-v1, ...)."),
    out: str = typer.Option(..., "--out", "-o", help="Folder of the loop: world-<i>/ and agent-<i>/ runs, dream.json."),
    algo: str = typer.Option("ppo", "--algo", help="Agent trained inside the world model."),
    world: str = typer.Option("dynamics", "--world", help="World-model generator."),
    real_steps: int = typer.Option(20_000, "--real-steps", help="Budget of real steps the world models learn from."),
    steps_per_iteration: int = typer.Option(2_000, "--steps-per-iteration", help="Real steps collected per iteration."),
    world_steps: int = typer.Option(2_000, "--world-steps", help="Optimizer steps of each world model."),
    agent_steps: int = typer.Option(50_000, "--agent-steps", help="Agent steps inside the world model per iteration."),
    iterations: int = typer.Option(8, "--iterations", help="At most this many iterations."),
    target: Optional[float] = typer.Option(None, "--target", help="Stop at this real mean return (default: the env's threshold)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every run of the loop."),
    agent_sets: list[str] = typer.Option([], "--agent-set", help="--set for the agent runs (repeatable)."),
    world_sets: list[str] = typer.Option([], "--world-set", help="--set for the world-model runs (repeatable)."),
    continue_from: Optional[str] = typer.Option(None, "--continue-from", help="Begin with this trained world-model run of ENV."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display of the runs."),
) -> None:
    """Collect real rollouts, train a world model, train an agent only inside it, evaluate it in the real env; repeat
    with the agent's own rollouts until it solves the env or the real-step budget is spent.

    Example: lab dream CartPole-v1 --out runs/dream-cartpole --real-steps 20000
    """
    from lab.dream import DreamConfig, format_summary
    from lab.dream import dream as run_dream
    from lab.paths import writable_path

    with user_errors():
        writable_path("--out", out)
        cfg = DreamConfig(env=env, algo=algo, world=world, real_steps=real_steps,
                          steps_per_iteration=steps_per_iteration, world_steps=world_steps, agent_steps=agent_steps,
                          iterations=iterations, target=target, seed=seed, agent_sets=tuple(agent_sets),
                          world_sets=tuple(world_sets), continue_from=continue_from)
        summary = run_dream(cfg, out, display=not quiet)
    typer.echo(format_summary(summary))


# --- lab list / config / plot ----------------------------------------------------------------------

_KINDS = ("agents", "envs", "generators", "datasets", "players")


@app.command("list")
def list_(
    kind: Optional[str] = typer.Argument(None, help=f"One of: {', '.join(_KINDS)} (default: all)."),
    all_gym: bool = typer.Option(False, "--all", help="With envs: also list every Gymnasium id."),
) -> None:
    """List what is registered, with a one-line description each."""
    from lab import registry
    from lab.errors import unknown_name

    with user_errors():
        kinds = _KINDS if kind is None else (kind,)
        for k in kinds:
            if k not in _KINDS:
                raise unknown_name("kind", k, _KINDS)
        for k in kinds:
            reg = getattr(registry, k.upper(), None)
            if reg is None:
                continue
            names = reg.names()
            typer.echo(f"{k}:")
            if not names:
                typer.echo("  (none registered)")
            width = max((len(n) for n in names), default=0)
            for name in names:
                typer.echo(f"  {name:<{width}}  {reg.describe(name)}")
            if k == "envs":
                import gymnasium as gym

                ids = sorted(gym.registry)
                if all_gym:
                    for env_id in ids:
                        typer.echo(f"  {env_id}")
                else:
                    typer.echo(f"  ... and {len(ids)} Gymnasium ids such as CartPole-v1, Pendulum-v1 (--all lists them)")


@app.command("config")
def config_cmd(
    algo: str = typer.Argument(..., help="Agent."),
    env: str = typer.Argument(..., help="Environment."),
    sets: list[str] = typer.Option([], "--set", help="Override a config key (repeatable)."),
    hyperparams: Optional[str] = typer.Option(None, "--hyperparams", help="rl-baselines3-zoo hyperparameter YAML."),
    gym_packages: list[str] = typer.Option([], "--gym-packages", help="Import this package first (repeatable)."),
) -> None:
    """Print the fully resolved config for ALGO on ENV, each value with where it came from.

    [default]: the agent's plain defaults (SB3's); [rl-zoo FILE:LINE (ENTRY)]: the RL Zoo's published
    values; [lab tuned]: measured by the lab; or the --hyperparams file, --set item that set it.
    """
    from lab.config import dump_yaml
    from lab.training import check_budget, check_config, resolve_config

    with user_errors():
        notes: list[str] = []
        sources: dict[str, str] = {}
        cfg = resolve_config(
            algo=algo,
            env=env,
            sets=sets,
            hyperparams=str(hyperparams) if hyperparams else None,
            flags={"gym_packages": gym_packages or None},
            notes=notes,
            sources=sources,
        )
        check_config(cfg)  # what `lab train` checks before it starts: the env exists, the agent fits it
        check_budget(cfg)
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    header = f"lab train --config FILE  (resolved for {algo} on {env}; [...]: where each value came from)"
    typer.echo(dump_yaml(cfg, header=header, sources=sources), nl=False)


@app.command()
def plot(
    run_dirs: list[str] = typer.Argument(..., help="One or more run folders."),
    out_text: str = typer.Option("curves.png", "--out", "-o", help="PNG to write."),
) -> None:
    """Draw the learning curves of one or more runs into one PNG."""
    from lab.runs import RunDir
    from lab.training.plots import learning_curve

    from lab.paths import user_path

    with user_errors():
        out = user_path("--out", out_text)
        if out.is_dir():
            raise LabError(f"--out {out}: is a folder; give a file name such as {out / 'curves.png'}")
        if out.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
            raise LabError(f"--out {out}: expected a .png (or .pdf, .svg, .jpg) file name")
        for d in run_dirs:
            user_path("RUN_DIRS", d)
            RunDir.open(d)
        try:
            path = learning_curve(run_dirs, out)
        except OSError as e:
            raise LabError(f"--out {out}: cannot write it ({e.strerror or e})") from None
        if path is None:
            raise LabError("no episodes or evaluations to plot in " + ", ".join(map(str, run_dirs)))
    typer.echo(f"wrote {path}")


# --- games ---------------------------------------------------------------------------------------


@app.command()
def play(
    game: str = typer.Argument(..., help="Game: tictactoe, connect_four (see `lab list envs`)."),
    opponent: str = typer.Option("mcts:400", "--opponent", help="Player spec: random, mcts:N, minimax, alphazero:RUN_DIR[:sims=N], ppo:RUN_DIR."),
    first: bool = typer.Option(True, "--first/--second", help="Move first (default) or second."),
    seed: int = typer.Option(0, "--seed", help="Seed of the opponent's random choices."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (for alphazero opponents)."),
) -> None:
    """Play GAME in the terminal against a player spec; the board is drawn after each move."""
    from rich.console import Console

    from lab.device import resolve_device
    from lab.game import IllegalMoveError, resolve_game
    from lab.players import make_player

    console = Console()
    with user_errors():
        game_cls = resolve_game(game)
        bot = make_player(opponent, game_cls, seed=seed, device=resolve_device(device))
    board = game_cls()
    me = 0 if first else 1
    console.print(f"You are {'X (first)' if first else 'O (second)'} against {bot.name}. Type {game_cls.move_help}; q quits.")
    console.print(board.render())
    while not board.done:
        if board.to_play == me:
            try:
                text = typer.prompt("your move", prompt_suffix="> ")
            except (typer.Abort, EOFError, OSError):  # end of input, or no terminal to read from
                typer.echo("\naborted", err=True)
                raise typer.Exit(1) from None
            if text.strip().lower() in ("q", "quit", "exit"):
                raise typer.Exit(0)
            try:
                action = game_cls.parse_move(text)
                board.play(action)
            except IllegalMoveError as e:
                console.print(f"[red]{e}[/]; try again")
                continue
        else:
            action = bot.act(board)
            board.play(action)
            console.print(f"{bot.name} plays {game_cls.format_move(action)}")
        console.print(board.render())
    if board.winner is None:
        console.print("Draw.")
    else:
        console.print("You win!" if board.winner == me else f"{bot.name} wins.")


@app.command()
def analyze(
    game: str = typer.Argument(..., help="Game: tictactoe, connect_four."),
    moves: list[str] = typer.Argument(
        None, help="Positions as moves from the empty board, one digit per move ('-': the empty board)."
    ),
    agent: str = typer.Option(..., "--agent", help="Player spec: alphazero:RUN_DIR[:sims=N], ppo:RUN_DIR, mcts:N, minimax, random."),
    positions_text: Optional[str] = typer.Option(None, "--positions", help="File with one position per line."),
    seed: int = typer.Option(0, "--seed", help="Seed of the player's random choices."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
) -> None:
    """Print one JSON line per position: the agent's move, its move distribution and the value for the side to move.

    Moves: Connect Four, one digit 1-7 per move (columns from the left); Tic-Tac-Toe, one digit 1-9 per
    move (cells row by row). Example: lab analyze connect_four 4453 --agent alphazero:runs/az-c4
    """
    import json

    from lab.device import resolve_device
    from lab.game import IllegalPositionError, position_from_moves, resolve_game
    from lab.players import make_player

    with user_errors():
        game_cls = resolve_game(game)
        player = make_player(agent, game_cls, seed=seed, device=resolve_device(device))
        if getattr(player, "analyze", None) is None:
            raise LabError(f"player {player.name!r} cannot analyze positions")
        items: list[tuple[str, str]] = []  # (where, moves)
        if positions_text is not None:
            from lab.paths import user_path

            positions = user_path("--positions", positions_text)
            try:
                lines = positions.read_text().splitlines()
            except OSError as e:
                raise LabError(f"--positions {positions}: cannot read it ({e.strerror})") from None
            except UnicodeDecodeError:
                raise LabError(f"--positions {positions}: not a UTF-8 text file") from None
            for i, line in enumerate(lines, start=1):
                text = line.split("#", 1)[0].strip()
                if text:
                    items.append((f"{positions}:{i}", text))
        for i, text in enumerate(moves or [], start=1):
            items.append((f"argument {i}", text))
        if not items:
            items.append(("argument 1", "-"))
    bad = 0
    for where, text in items:
        try:
            board = position_from_moves(game_cls, text)
        except IllegalPositionError as e:
            shown = repr(text) if len(text) <= 40 else f"{text[:40]!r}... ({len(text):,} characters)"
            _err(f"error: {where}: position {shown}: {e}")
            bad += 1
            continue
        policy, value = player.analyze(board)
        best = int(max(board.legal_actions(), key=lambda a: policy[a]))
        line = {
            "position": text,
            "move": game_cls.format_move(best),
            "policy": [round(float(p), 4) for p in policy],
            "value": round(max(-1.0, min(1.0, float(value))), 4),
        }
        typer.echo(json.dumps(line))
    if bad:
        raise typer.Exit(2)


# --- sweeps --------------------------------------------------------------------------------------


@app.command()
def sweep(
    sweep_file: str = typer.Argument(..., help="Sweep file in the W&B sweep format (YAML)."),
    trials: Optional[int] = typer.Option(None, "--trials", "-n", help="Trials in total (default: run_cap, or the grid)."),
    workers: int = typer.Option(2, "--workers", "-w", help="Trials run at once."),
    backend: str = typer.Option("local", "--backend", help="local (worker processes), ray, or inline."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to attach to (HOST:PORT or auto)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Sweep folder (default sweeps/NAME)."),
    check: bool = typer.Option(False, "--check", help="Only validate the file and print the search space."),
    engine: str = typer.Option("optuna", "--engine", help="optuna (local, offline) or wandb (W&B's controller)."),
    retries: int = typer.Option(1, "--retries", help="Extra attempts for a trial that crashed or timed out."),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Seconds a trial may run (default: no limit)."),
    gpus_per_trial: float = typer.Option(0.0, "--gpus-per-trial", help="GPU share per trial: 0.5, 1, 2 (default 0)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live table."),
) -> None:
    """Run a hyperparameter sweep: `lab sweep examples/sweep/ppo_cartpole.yaml --trials 8 --workers 2`.

    The same command again continues an interrupted sweep; `--check` validates the file.
    """
    from lab.paths import user_path
    from lab.sweeps import SweepOptions, check_sweep, run_sweep

    with user_errors():
        check_options(trials=trials, workers=workers, retries=retries, timeout=timeout, gpus_per_trial=gpus_per_trial)
        user_path("SWEEP_FILE", sweep_file)
        if out is not None:
            user_path("--out", out)
        if check:
            typer.echo(check_sweep(sweep_file).describe())
            return
        summary = run_sweep(
            sweep_file,
            SweepOptions(
                trials=trials, workers=workers, backend=backend, address=address, out=str(out) if out else None,
                engine=engine, retries=retries, timeout=timeout, gpus_per_trial=gpus_per_trial, display=not quiet,
            ),
        )
    states = ", ".join(f"{n} {s}" for s, n in sorted(summary.states.items())) or "none ended"
    best = f"; best {summary.best['value']:.6g} ({summary.best['trial']})" if summary.best else ""
    if summary.metric_less:
        best = "; no metric: results.csv lists what each trial logged, no best.yaml"
    resumed = f" ({summary.kept} kept from before, {summary.rerun} interrupted rerun)" if summary.kept or summary.rerun else ""
    typer.echo(f"{sum(summary.states.values())}/{summary.total} trials: {states}{best}{resumed}; folder {summary.out}")
    if summary.interrupted:
        _err(f"stopped ({summary.interrupted}): no new trials were started; the trials that were running are rerun "
             f"with the same parameters when you resume. Resume with: {summary.resume_command}")
        raise typer.Exit(130)
    if not summary.states.get("complete") and not summary.states.get("pruned"):
        _err(f"error: no trial succeeded; each trial's error is in {summary.out}/results.csv")
        raise typer.Exit(1)


# --- tournaments and ratings ---

_TOURNAMENT_EXAMPLES = """

    lab tournament connect_four --player random=random --player m50=mcts:50 --player m400=mcts:400 --games-per-pair 20 --workers 2 --out T

    lab tournament connect_four --player a=mcts:400 --player b=mcts:50 --sprt elo0=0,elo1=50

    lab tournament connect_four --player new=alphazero:runs/az-c4 --player m100=mcts:100 --player m400=mcts:400 --gauntlet new

    lab tournament pettingzoo:classic/connect_four_v3 --player r1=random --player r2=random
"""


@app.command(help="Play a round robin (or a gauntlet, or an SPRT) between players and rate them." + _TOURNAMENT_EXAMPLES)
def tournament(
    game: str = typer.Argument(..., help="Game: connect_four, tictactoe, or a PettingZoo AEC env (pettingzoo:classic/connect_four_v3)."),
    player: list[str] = typer.Option([], "--player", "-p", help="NAME=SPEC, repeated: random, mcts:N, minimax, alphazero:RUN_DIR[:sims=N], ppo:RUN_DIR."),
    games_per_pair: Optional[int] = typer.Option(None, "--games-per-pair", "-n", help="Games per pairing, even (default 20; with --sprt the most a pairing may play, 2000)."),
    workers: int = typer.Option(2, "--workers", "-w", help="Jobs run at once."),
    backend: str = typer.Option("local", "--backend", help="local (worker processes), ray, or inline."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to attach to (HOST:PORT or auto)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Tournament folder (default tournaments/GAME-NAMES); the same command continues it."),
    seed: int = typer.Option(0, "--seed", help="Seeds the openings and the players' random choices."),
    gauntlet: Optional[str] = typer.Option(None, "--gauntlet", help="Play only NAME against every other player."),
    sprt: Optional[str] = typer.Option(None, "--sprt", help="elo0=E0,elo1=E1[,alpha=0.05,beta=0.05]: play game pairs until one is accepted."),
    opening_plies: int = typer.Option(4, "--opening-plies", help="Random plies per opening (openings already decided are not used)."),
    openings: Optional[Path] = typer.Option(None, "--openings", help="Opening book: one opening per line as move text (4453)."),
    batch: Optional[int] = typer.Option(None, "--batch", help="Games per job (default: for players with batched search a pairing's games split over the workers, up to 64 a job; else 2)."),
    device: str = typer.Option("cpu", "--device", help="auto, cpu or cuda (for alphazero players)."),
    track: bool = typer.Option(False, "--track/--no-track", help="Also log the ratings table to W&B (offline without an API key)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live display."),
) -> None:
    from lab.tournament import TournamentOptions, print_ratings, run_tournament

    with user_errors():
        if device != "cpu":  # importing the training stack (torch) costs seconds; cpu needs none of it
            from lab.device import resolve_device

            device = resolve_device(device)
        summary = run_tournament(TournamentOptions(
            game=game, players=player, games_per_pair=games_per_pair, workers=workers, backend=backend,
            address=address, out=out, seed=seed, gauntlet=gauntlet, sprt=sprt,
            opening_plies=opening_plies, openings=str(openings) if openings else None, batch=batch,
            device=device, display=not quiet, track=track,
        ))
    for note in summary.notes[summary.shown_notes:]:  # the live display printed the others
        typer.echo(f"note: {note}", err=True)
    if summary.ratings is not None:
        print_ratings(summary.ratings)
    if summary.sprt is not None:
        typer.echo(summary.sprt.describe())
    total = f"/{summary.total}" if summary.total is not None else ""
    typer.echo(f"{summary.games}{total} games in {summary.out / 'games.jsonl'} ({summary.played} played now, "
               f"{summary.kept} kept); ratings in {summary.out / 'ratings.json'}")
    if summary.interrupted:
        typer.echo(f"interrupted; the same command continues it", err=True)
        raise typer.Exit(130)
    if summary.failed:
        typer.echo(f"{len(summary.failed)} job(s) failed (first: {summary.failed[0]}); the same command plays "
                   f"their games again", err=True)
        raise typer.Exit(1)


@app.command()
def ratings(
    files: list[Path] = typer.Argument(..., help="games.jsonl files or tournament folders (several are merged)."),
    anchor: Optional[str] = typer.Option(None, "--anchor", help="NAME=RATING (default: the first player at 0)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for ratings.json, crosstable.csv and the PNGs (default: the file's folder; required for several files)."),
    track: bool = typer.Option(False, "--track/--no-track", help="Also log the ratings table to W&B (offline without an API key)."),
) -> None:
    """Fit Elo ratings with 95% intervals to games files: `lab ratings T/games.jsonl --anchor random=0`.

    Maximum-likelihood Bradley-Terry, draws as half points, the first-move advantage as its own parameter.
    """
    from lab.tournament import parse_anchor, print_ratings, rate_files, write_outputs
    from lab.tournament.report import log_to_wandb

    from lab.paths import user_path

    with user_errors():
        files = [user_path("FILES", f) for f in files]
        if out is not None:
            out = user_path("--out", out)
        files = [f / "games.jsonl" if f.is_dir() and (f / "games.jsonl").exists() else f for f in files]
        if out is None and len(files) > 1:
            raise LabError("--out: several games files are merged; say where the ratings go (--out DIR)")
        folder = out if out is not None else files[0].parent
        result, rows = rate_files(files, parse_anchor(anchor))
        extra: dict = {"files": [str(f) for f in files]}
        if out is None:  # a tournament's own folder: keep what the tournament recorded there (settings, SPRT)
            import json

            with contextlib.suppress(OSError, ValueError, AttributeError):
                old = json.loads((folder / "ratings.json").read_text(encoding="utf-8"))
                extra.update({k: old[k] for k in ("tournament", "sprt") if k in old})
        written = write_outputs(folder, result, rows, extra)
    print_ratings(result)
    if track:
        warning = log_to_wandb(Path(folder), result, Path(folder).name, {"files": [str(f) for f in files]})
        if warning:
            typer.echo(f"warning: {warning}", err=True)
    typer.echo("wrote " + ", ".join(str(p) for p in written))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: any exception that escapes a command is one line (see :mod:`lab.crashlog`)."""
    from lab import crashlog

    args = sys.argv[1:] if argv is None else list(argv)
    with crashlog.guard(["lab", *args]):
        try:
            app(args=args, prog_name="lab")
        except KeyboardInterrupt:
            _err("aborted")
            sys.exit(130)
        except LabError as e:  # bad input a command did not catch itself
            _err(f"error: {e}")
            sys.exit(2)


if __name__ == "__main__":
    main()
