"""Environment names: module:EnvId, --gym-packages, the zoo's env_wrapper, Atari frame skip and sticky actions."""

from __future__ import annotations

import sys

import gymnasium as gym
import pytest

from lab.envs import parse_wrappers, resolve_env
from lab.errors import LabError, MissingDependencyError


@pytest.fixture
def my_package(tmp_path, monkeypatch):
    """A third-party package that registers ``MyCorridor-v0`` when imported."""
    pkg = tmp_path / "my_gym_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import gymnasium as gym\n"
        "if 'MyCorridor-v0' not in gym.registry:\n"
        "    gym.register('MyCorridor-v0', entry_point='gymnasium.envs.classic_control:CartPoleEnv', max_episode_steps=9)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_gym_pkg"
    gym.registry.pop("MyCorridor-v0", None)
    sys.modules.pop("my_gym_pkg", None)


def test_gym_packages_are_imported_before_the_id_is_looked_up(my_package):
    with pytest.raises(LabError, match="unknown environment 'MyCorridor-v0'.*PKG:EnvId or --gym-packages PKG"):
        resolve_env("MyCorridor-v0")
    assert resolve_env("MyCorridor-v0", packages=[my_package]).max_episode_steps == 9


def test_module_colon_env_id_imports_the_module(my_package):
    info = resolve_env(f"{my_package}:MyCorridor-v0")
    assert info.kind == "gym" and info.max_episode_steps == 9 and info.action_space.n == 2


def test_a_missing_package_says_so():
    with pytest.raises(MissingDependencyError, match=r"^--gym-packages no_such_pkg: no module named 'no_such_pkg'"):
        resolve_env("CartPole-v1", packages=["no_such_pkg"])
    with pytest.raises(MissingDependencyError, match=r"^environment 'no_such_pkg:Foo-v0': no module named"):
        resolve_env("no_such_pkg:Foo-v0")


def test_env_wrapper_is_read_as_the_zoo_writes_it_and_applied_after_the_factory():
    wrappers = [{"gymnasium.wrappers.TimeLimit": {"max_episode_steps": 7}}, "gymnasium.wrappers.FlattenObservation"]
    info = resolve_env("CartPole-v1", wrappers=wrappers)
    assert [cls for cls, _ in info.wrappers] == [gym.wrappers.TimeLimit, gym.wrappers.FlattenObservation]
    env = info.wrap(info.factory())
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        _obs, _r, terminated, truncated, _info = env.step(0 if steps % 2 else 1)
        if terminated or truncated:
            break
    assert steps <= 7
    with pytest.raises(LabError, match=r"env_wrapper\[0\]: expected one wrapper name with its keywords"):
        parse_wrappers([{"a.B": {}, "c.D": {}}])
    with pytest.raises(LabError, match="cannot import 'nosuch.module:Wrapper'"):
        parse_wrappers("nosuch.module.Wrapper")


@pytest.mark.parametrize(
    ("env_id", "frameskip", "sticky"),
    [("ALE/Breakout-v5", 1, 0.25), ("BreakoutNoFrameskip-v4", 1, 0.0)],
)
def test_atari_ids_skip_four_frames_once_and_keep_their_sticky_actions(env_id, frameskip, sticky):
    pytest.importorskip("ale_py")
    info = resolve_env(env_id)
    (atari_cls, kwargs), = info.wrappers
    assert atari_cls.__name__ == "AtariWrapper" and kwargs == {"frame_skip": 4}
    env = info.factory()
    ale = env.unwrapped
    assert ale._frameskip == frameskip  # the emulator itself no longer skips: the wrapper's 4 frames are all
    assert ale.ale.getFloat("repeat_action_probability") == pytest.approx(sticky)
    env.close()
    assert info.observation_space.shape == (84, 84, 1)


def test_atari_wrapper_keywords_from_the_zoo_entry_are_kept():
    pytest.importorskip("ale_py")
    wrappers = [{"stable_baselines3.common.atari_wrappers.AtariWrapper": {"terminal_on_life_loss": False}}]
    (_cls, kwargs), = resolve_env("ALE/Pong-v5", wrappers=wrappers).wrappers
    assert kwargs == {"frame_skip": 4, "terminal_on_life_loss": False}


def test_env_packages_is_the_config_key_and_gym_packages_still_reads(my_package, tmp_path):
    from lab.training import resolve_config

    new = tmp_path / "new.yaml"
    new.write_text(f"algo: ppo\nenv:\n  id: MyCorridor-v0\n  packages: [{my_package}]\n")
    sources: dict[str, str] = {}
    cfg = resolve_config(config_file=str(new), sources=sources)
    assert (cfg.env, cfg.gym_packages) == ("MyCorridor-v0", [my_package])
    assert sources["gym_packages"] == f"{new}:4" and sources["env"] == f"{new}:3"
    old = tmp_path / "old.yaml"  # files written before env.packages
    old.write_text(f"algo: ppo\nenv: MyCorridor-v0\ngym_packages: [{my_package}]\n")
    assert resolve_config(config_file=str(old)).gym_packages == [my_package]
    by_set = resolve_config(algo="ppo", env="MyCorridor-v0", sets=[f"env.packages={my_package}"])
    assert by_set.gym_packages == [my_package]


def test_env_mapping_errors_name_the_line(my_package, tmp_path):
    from lab.errors import ConfigError
    from lab.training import resolve_config

    typo = tmp_path / "typo.yaml"
    typo.write_text(f"algo: ppo\nenv:\n  id: MyCorridor-v0\n  package: [{my_package}]\n")
    with pytest.raises(ConfigError, match=rf"^{typo}:4: unknown key 'env.package' .*did you mean 'env.packages'\?"):
        resolve_config(config_file=str(typo))
    both = tmp_path / "both.yaml"
    both.write_text(f"algo: ppo\nenv:\n  id: MyCorridor-v0\n  packages: [{my_package}]\ngym_packages: [{my_package}]\n")
    with pytest.raises(ConfigError, match=rf"^{both}:5: gym_packages and env.packages \({both}:4\) name the same"):
        resolve_config(config_file=str(both))
