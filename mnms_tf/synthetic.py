"""Synthetic multitask rewards: drive the controller without training a single child.

Each task has a target config, one action per search-space parameter. Two reward shapes:
- `match_reward`: the fraction of parameters equal to the target's, cubed. Every
  parameter counts the same and there is no noise: the easiest possible search.
- `AccuracyLikeReward`: an accuracy between chance and a ceiling, with parameters of
  unequal importance (the embedding matters most, l2 least) and evaluation noise, cubed:
  the regime of real children, where some choices barely move the reward.
The tests and the controller benchmarks use them; they are also a quick sanity check of a
controller setting before a search spends hours of children on it.
"""
import gin
import numpy as np


def match_reward(target, actions):
  """Rewards [B] of actions [B, K] for a task whose best config is `target` [K]."""
  return np.mean(np.asarray(actions) == np.asarray(target)[None, :], axis=1) ** 3


@gin.configurable
class AccuracyLikeReward:
  """(chance + (ceiling - chance) * importance-weighted match + noise) ** 3, clipped to [0, 1].

  Default importances follow the search space's order (embedding, trainable, nlayers,
  nnodes, learning_rate, iterations, regularization).
  """

  def __init__(self, importance=(4.0, 1.0, 1.0, 0.5, 2.0, 1.0, 0.5), chance=0.5, ceiling=0.9,
               noise=0.01, seed=0):
    self.importance = np.asarray(importance, np.float64)
    self.chance, self.ceiling, self.noise = chance, ceiling, noise
    self.rng = np.random.default_rng(seed)

  def __call__(self, target, actions):
    matches = np.asarray(actions) == np.asarray(target)[None, :]
    accuracy = self.chance + (self.ceiling - self.chance) * (
        matches @ self.importance / self.importance.sum())
    accuracy += self.rng.normal(0.0, self.noise, size=accuracy.shape)
    return np.clip(accuracy, 0.0, 1.0) ** 3


def is_solved(agent, task, target, min_probability=0.9):
  """Greedy decoding is `target` and every target choice has `min_probability` given its prefix."""
  target = [int(a) for a in target]
  probabilities = agent.step_probabilities(task, target)
  return (agent.greedy(task) == target and
          min(p[a] for p, a in zip(probabilities, target)) >= min_probability)


def search(agent, targets, max_samples, batch_size=8, check_every=5, seed=0,
           reward=match_reward, mean_reward_target=None):
  """Searches like the runner: each iteration one task, drawn uniformly, gets a batch.

  `targets` maps task name -> target actions; `reward(target, actions)` scores a batch.
  Returns the number of samples after which every task was done, or None within
  `max_samples`. Done means `is_solved` (checked every `check_every` iterations) or, with
  `mean_reward_target`, that the task's last `check_every` batches averaged at least that
  reward: the controller samples good models (what the paper's figures plot).
  """
  rng = np.random.default_rng(seed)
  names = list(targets)
  recent = {name: [] for name in names}
  samples = 0
  for iteration in range(max_samples // batch_size):
    name = names[rng.integers(len(names))]
    tasks = [agent.task_index(name)] * batch_size
    actions, log_probabilities = agent.sample(tasks)
    rewards = reward(targets[name], actions)
    recent[name] = (recent[name] + [np.mean(rewards)])[-check_every:]
    agent.observe(tasks, actions, rewards, log_probabilities, iteration)
    agent.train()
    samples += batch_size
    if mean_reward_target is not None:
      if all(len(r) == check_every and np.mean(r) >= mean_reward_target
             for r in recent.values()):
        return samples
    elif (iteration + 1) % check_every == 0 and all(
        is_solved(agent, n, t) for n, t in targets.items()):
      return samples
  return None


def example_targets(sizes):
  """Tasks a and b, whose targets differ in every parameter, and c, which shares all but two
  choices (the first and the fourth) with a and none with b; used by tests and benchmarks."""
  a = [size - 1 for size in sizes]
  c = list(a)
  c[0] = c[3] = 1
  return {'a': a, 'b': [0] * len(sizes), 'c': c}
