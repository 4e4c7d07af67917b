"""A zero-shot portfolio: configs that do well across earlier tasks, tried first on a new one.

What AutoGluon and auto-sklearn 2 ship and Syne Tune's `ZeroShotTransfer` does: from the
seed-mean validation accuracies of one pool of configs on every earlier task
(experiments/ground_truth.py), a greedy forward selection (Wistuba et al. 2015) adds, step
by step, the config that most raises the mean over tasks of the portfolio's best
normalized score. Scores are normalized per task ((s - median) / (best - median)), so that
tasks with a wide and a narrow spread of accuracies weigh alike. A search evaluates the
portfolio first (`search.initial_configs = 'portfolio'`, transfer/warm_start.py), then goes
on as its controller does (the benchmark's `portfolio` method: random search).
"""
import json
import os

import numpy as np

from mnms_tf import errors


def normalized(scores):
  """[tasks, configs] scores -> per task (s - median) / (max - median); 0 for a task whose
  configs all score alike."""
  scores = np.asarray(scores, np.float64)
  median = np.median(scores, axis=1, keepdims=True)
  spread = scores.max(axis=1, keepdims=True) - median
  return np.where(spread > 0, (scores - median) / np.where(spread > 0, spread, 1.0), 0.0)


def greedy(scores, size):
  """Indices of `size` configs (columns of `scores` [tasks, configs]), in the order chosen:
  each maximizes the mean over tasks of max over the portfolio so far plus it (the
  earliest column on ties)."""
  scores = normalized(scores)
  chosen, best = [], np.full(scores.shape[0], -np.inf)
  for _ in range(min(size, scores.shape[1])):
    gains = np.maximum(best[:, None], scores).mean(axis=0)
    gains[chosen] = -np.inf
    pick = int(np.argmax(gains))
    chosen.append(pick)
    best = np.maximum(best, scores[:, pick])
  return chosen


def build(truths_by_task, size):
  """The portfolio of `size` configs over the configs whose ground truth every task has
  (task -> {config hash: ground_truth.Truth}), by seed-mean validation accuracy."""
  common = sorted(set.intersection(*(set(t) for t in truths_by_task.values())))
  if not common:
    raise errors.UserError(f'No config has ground truth on all of {sorted(truths_by_task)}: '
                           f'measure the reference pool first')
  tasks = sorted(truths_by_task)
  scores = [[truths_by_task[t][h].val for h in common] for t in tasks]
  return [truths_by_task[tasks[0]][common[i]].config for i in greedy(scores, size)]


def write(path, configs, tasks):
  """The portfolio file a search reads: its configs in order and the tasks they came from."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path + '.tmp', 'w') as f:
    json.dump({'configs': configs, 'tasks': sorted(tasks)}, f, indent=2)
  os.replace(path + '.tmp', path)


def read(path):
  try:
    with open(path) as f:
      return json.load(f)['configs']
  except (OSError, ValueError, KeyError) as e:
    raise errors.UserError(f'search.portfolio: {path} is not a portfolio file ({e})') from e
