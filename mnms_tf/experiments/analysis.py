"""What the paper's figures and report read from run directories.

A reproduction directory holds one run directory per experiment and seed:
ROOT/EXPERIMENT/seed_N (see mnms_tf/bin/reproduce.py). Curves are the validation
accuracies of a task's sampled children in the order the search trained them (a failed
child counts as 0, as its reward does), smoothed as in the paper's figures
(transfer/measures.py); seed bands are the min and max over seeds at each child.
"""
import glob
import os

import numpy as np

from mnms_tf.controllers import agent as agent_lib
from mnms_tf.search import restore
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import measures

EXPERIMENTS = ('multitask', 'on_policy', 'scratch', 'transfer')


def experiment_runs(root_dir, experiment):
  """The run directories of one experiment, one per seed, in seed order."""
  runs = glob.glob(os.path.join(root_dir, experiment, 'seed_*'))
  return sorted((r for r in runs if os.path.exists(os.path.join(r, store_lib.FILENAME))),
                key=lambda r: int(r.rsplit('_', 1)[1]))


def accuracy_curve(run_dir, task):
  with store_lib.TrialStore(run_dir, read_only=True) as store:
    return np.array([row['val_accuracy'] for row in store.trials(task=task)])


def task_curves(runs, task):
  """`accuracy_curve` of every run in which `task` has trained children."""
  curves = [accuracy_curve(r, task) for r in runs]
  return [c for c in curves if len(c)]


def best_trial(run_dir, task):
  with store_lib.TrialStore(run_dir, read_only=True) as store:
    return store.best(task)


def run_tasks(run_dir):
  return run_dir_lib.read_info(run_dir)['tasks']


def seed_band(curves):
  """(mean, low, high) over seeds of smoothed curves, cut to the shortest."""
  length = min(len(c) for c in curves)
  smoothed = np.stack([measures.smooth(c[:length]) for c in curves])
  return smoothed.mean(axis=0), smoothed.min(axis=0), smoothed.max(axis=0)


def probability_tables(run_dir, num_samples=4000):
  """(the run's search-space choices, task -> per-parameter choice frequencies of its final
  controller)."""
  agent = restore.restore_controller(run_dir)
  info = run_dir_lib.read_info(run_dir)
  return run_dir_lib.restore_search_space(info).choices, {
      task: agent_lib.probability_table(agent, task, num_samples) for task in info['tasks']}


def task_embeddings(run_dir):
  """(task names, [tasks, dim] actor task embeddings) of the run's final controller."""
  agent = restore.restore_controller(run_dir)
  return list(agent.task_names), agent.actor.task_embeddings.numpy()
