"""Learned world models as environments: ``world:RUN_DIR`` (registered in ``lab.envs`` as the ``world`` family).

* ``env.py``  ``WorldEnv`` (one Gymnasium env, passes ``check_env``) and ``WorldVecEnv`` (an SB3 VecEnv that
              steps the whole batch in one forward pass of the model); the ``World`` family that resolves ids.
"""

from envs.world.env import World, WorldEnv, WorldVecEnv, parse_world_id

__all__ = ["World", "WorldEnv", "WorldVecEnv", "parse_world_id"]
