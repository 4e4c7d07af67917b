"""Synthetic children: drive a controller through the real runner without training one.

Each task has a target config, one action per search-space parameter; a child's
"accuracy" says how close its config is to the target. Two shapes:
- `match_accuracy`: the fraction of parameters equal to the target's. Every parameter
  counts the same and there is no noise: the easiest possible search.
- `AccuracyLike`: an accuracy between chance and a ceiling, with parameters of unequal
  importance (the embedding matters most, l2 least) and evaluation noise seeded by the
  child's seed: the regime of real children, where some choices barely move the reward.
The reward is the accuracy cubed, as for real children. `SyntheticChildren` is an
evaluator (mnms_tf/evaluation/evaluators.py), so these searches go through the runner, its trial
store, checkpoints and resume. The tests and the controller benchmarks use them; they are
also a quick sanity check of a controller setting before hours of children are spent.
"""
import numpy as np

from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf import errors
from mnms_tf.evaluation import job_stream


def match_accuracy(target, actions, seed):
  """The fraction of `actions` [K] equal to `target` [K]."""
  del seed  # no noise
  return float(np.mean(np.asarray(actions) == np.asarray(target)))


class AccuracyLike:
  """chance + (ceiling - chance) * importance-weighted match + noise, clipped to [0, 1].

  Default importances follow the search space's order (embedding, trainable, nlayers,
  nnodes, learning_rate, iterations, regularization).
  """

  def __init__(self, importance=(4.0, 1.0, 1.0, 0.5, 2.0, 1.0, 0.5), chance=0.5, ceiling=0.9,
               noise=0.01):
    self.importance = np.asarray(importance, np.float64)
    self.chance, self.ceiling, self.noise = chance, ceiling, noise

  def __call__(self, target, actions, seed):
    matches = np.asarray(actions) == np.asarray(target)
    accuracy = self.chance + (self.ceiling - self.chance) * (
        matches @ self.importance / self.importance.sum())
    accuracy += np.random.default_rng(seed).normal(0.0, self.noise)
    return float(np.clip(accuracy, 0.0, 1.0))

  def __repr__(self):
    return (f'AccuracyLike(importance={self.importance.tolist()}, chance={self.chance}, '
            f'ceiling={self.ceiling}, noise={self.noise})')


class SyntheticChildren(job_stream.InProcess):
  """An evaluator whose children score `accuracy(target, actions, seed)` in no time."""

  def __init__(self, targets, accuracy=match_accuracy, reward_exponent=3.0, space=None):
    self.targets = {task: [int(a) for a in target] for task, target in targets.items()}
    self.accuracy = accuracy
    self.reward_exponent = reward_exponent
    self.space = space or search_space.SearchSpace()
    super().__init__(self._score, 'synthetic')

  def check_tasks(self, tasks):
    unknown = [t for t in tasks if t not in self.targets]
    if unknown:
      raise errors.UserError(f'No synthetic target for tasks {unknown}')

  def describe(self, tasks):
    return {'kind': 'synthetic', 'targets': {t: self.targets[t] for t in tasks},
            'accuracy': getattr(self.accuracy, '__name__', repr(self.accuracy)),
            'reward_exponent': self.reward_exponent}

  def _score(self, task, config, seed):
    accuracy = self.accuracy(self.targets[task], self.space.to_actions(config), seed)
    return result_lib.ChildResult(
        task=task, config=config, config_hash=self.space.config_hash(config), seed=seed,
        val_accuracy=accuracy, test_accuracy=accuracy, reward=accuracy ** self.reward_exponent)


class SyntheticTaskFeatures:
  """The task-features service (data.features.TaskFeatures) of synthetic tasks."""

  def __init__(self, targets, space=None):
    self.targets = {task: [int(a) for a in target] for task, target in targets.items()}
    self.space = space or search_space.SearchSpace()

  def representation(self, task):
    """The target itself, one-hot per parameter: what the value network's tests learn from."""
    return np.concatenate([np.eye(size)[choice]
                           for size, choice in zip(self.space.sizes, self.targets[task])])

  def stored(self, tasks):
    """What a knowledge base keeps of `tasks` (data.features.TaskFeatures.stored)."""
    return {t: {'embedding': self.representation(t).tolist(),
                'representation': self.representation(t).tolist()} for t in tasks}

  def similarity(self, task_a, task_b):
    """The share of choices two tasks' targets agree on."""
    return float(np.mean(np.equal(self.targets[task_a], self.targets[task_b])))

  def similarities(self, tasks, others):
    return {task: {other: self.similarity(task, other) for other in others} for task in tasks}


def is_solved(agent, task, target, min_probability=0.9):
  """Greedy decoding is `target` and every target choice has `min_probability` given its prefix."""
  target = [int(a) for a in target]
  return agent.greedy(task) == target and min(  # greedy first: most checks stop there
      p[a] for p, a in zip(agent.step_probabilities(task, target), target)) >= min_probability


def solved(targets, check_every=5):
  """A `runner.Budget.until`: every task of `targets` `is_solved`, checked every
  `check_every` iterations (a check costs several iterations' time)."""
  def until(controller, store, iterations):
    del store
    return iterations % check_every == 0 and all(
        is_solved(controller, task, target) for task, target in targets.items())
  return until


def sampling_good_models(tasks, mean_reward, last=5):
  """A `runner.Budget.until`: each task's last `last` iterations averaged at least
  `mean_reward`: the controller samples good models (what the paper's figures plot)."""
  def until(controller, store, iterations):
    del controller, iterations
    for task in tasks:
      rewards = {}
      for row in store.last_iterations(task, last):
        rewards.setdefault(row['iteration'], []).append(row['reward'])
      recent = [np.mean(r) for r in rewards.values()]
      if len(recent) < last or np.mean(recent) < mean_reward:
        return False
    return True
  return until


def example_targets(sizes):
  """Tasks a and b, whose targets differ in every parameter, and c, which shares all but two
  choices (the first and the fourth) with a and none with b; used by tests and benchmarks."""
  a = [size - 1 for size in sizes]
  c = list(a)
  c[0] = c[3] = 1
  return {'a': a, 'b': [0] * len(sizes), 'c': c}
