"""stable-baselines3 agents (PPO, A2C, DQN, SAC, TD3) behind the lab's agent contract."""

from agents.sb3.agent import A2C, DQN, PPO, QRDQN, SAC, TD3, SB3Agent

__all__ = ["SB3Agent", "PPO", "A2C", "DQN", "SAC", "TD3", "QRDQN"]
