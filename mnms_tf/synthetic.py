"""Synthetic multitask rewards: drive the controller without training a single child.

Each task has a target config, one action per search-space parameter; a sample's reward is
the fraction of parameters equal to the target's, cubed (the shape of cubed accuracy). The
tests and the controller benchmark use it; it is also a quick sanity check of a controller
setting before a search spends hours of children on it.
"""
import numpy as np


def match_reward(target, actions):
  """Rewards [B] of actions [B, K] for a task whose best config is `target` [K]."""
  return np.mean(np.asarray(actions) == np.asarray(target)[None, :], axis=1) ** 3


def is_solved(agent, task, target, min_probability=0.9):
  """Greedy decoding is `target` and every target choice has `min_probability` given its prefix."""
  target = [int(a) for a in target]
  probabilities = agent.step_probabilities(task, target)
  return (agent.greedy(task) == target and
          min(p[a] for p, a in zip(probabilities, target)) >= min_probability)


def search(agent, targets, max_samples, batch_size=8, check_every=5, seed=0):
  """Searches like the runner: each iteration one task, drawn uniformly, gets a batch.

  `targets` maps task name -> target actions. Returns the number of samples after which every
  task was solved (checked every `check_every` iterations), or None within `max_samples`.
  """
  rng = np.random.default_rng(seed)
  names = list(targets)
  samples = 0
  for iteration in range(max_samples // batch_size):
    name = names[rng.integers(len(names))]
    tasks = [agent.task_index(name)] * batch_size
    actions, log_probabilities = agent.sample(tasks)
    agent.observe(tasks, actions, match_reward(targets[name], actions), log_probabilities,
                  iteration)
    agent.train()
    samples += batch_size
    if (iteration + 1) % check_every == 0 and all(
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
