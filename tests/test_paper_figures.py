"""The figure, table and report scripts on a small synthetic reproduction directory."""
import csv
import json
import os
import time

import numpy as np
import pytest
import tensorflow as tf

from mnms_tf.transfer import measures
from mnms_tf.children import result as result_lib
from mnms_tf.controllers import agent as agent_lib
from mnms_tf.controllers import factory as controller
from mnms_tf.search import checkpoints
from mnms_tf.search import run_dir
from mnms_tf.children import space as search_space
from mnms_tf.search import store as store_lib
from mnms_tf.experiments.figures import fig2_multitask_search
from mnms_tf.experiments.figures import fig3_parameter_distributions
from mnms_tf.experiments.figures import fig4_transfer
from mnms_tf.experiments.figures import fig5_task_embeddings
from mnms_tf.experiments.figures import report
from mnms_tf.experiments.figures import results_table

MULTITASK = ['spanish_langid', 'rt_snippets']
NEW = ['polarity_reviews', 'es_tweets']
SEEDS = (0, 1)
CHILDREN = 60  # per task and run


def _curve(start, end, rng):
  """A noisy rising accuracy curve from `start` to `end`."""
  rising = start + (end - start) * (1 - np.exp(-np.arange(CHILDREN) / 12))
  return np.clip(rising + rng.normal(0, 0.01, CHILDREN), 0, 1)


def _make_run(root, experiment, seed, tasks, controller_tasks, starts):
  """A run directory with trials following `starts` (task -> first accuracy) and a real
  (untrained) controller checkpoint."""
  path = os.path.join(root, experiment, f'seed_{seed}')
  os.makedirs(path)
  space = search_space.SearchSpace()
  info = dict(format=run_dir.FORMAT, tasks=tasks, seed=seed, children_per_iteration=8,
              reuse_evaluated=False, init_from=None, search_space=space.describe(),
              controller=controller.ControllerFactory().describe(), evaluator={},
              controller_tasks=controller_tasks)
  with open(os.path.join(path, run_dir.RUN_INFO), 'w') as f:
    json.dump(info, f)
  agent = agent_lib.MNMSAgent(controller_tasks, space.sizes, seed=seed)
  checkpoint = checkpoints.controller_checkpoint(agent, tf.Variable(1, dtype=tf.int64))
  checkpoints.Checkpointer(os.path.join(path, run_dir.CHECKPOINTS), checkpoint).save(1)
  rng = np.random.default_rng(seed)
  with store_lib.TrialStore(path) as store:
    for t, task in enumerate(tasks):
      for i, accuracy in enumerate(_curve(starts[task], 0.9, rng)):
        config = space.sample(rng)
        result = result_lib.ChildResult(task=task, config=config,
                                   config_hash=search_space.config_hash(config), seed=i,
                                   val_accuracy=float(accuracy),
                                   test_accuracy=float(accuracy) - 0.01,
                                   reward=float(accuracy) ** 3, total_seconds=1.0)
        store.add(i, t, result, 'main', time.time())


@pytest.fixture(scope='module')
def reproduction(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('reproduction'))
  for seed in SEEDS:
    for experiment in ('multitask', 'on_policy'):
      _make_run(root, experiment, seed, MULTITASK, MULTITASK, {t: 0.6 for t in MULTITASK})
    _make_run(root, 'scratch', seed, NEW, NEW, {t: 0.5 for t in NEW})
    _make_run(root, 'transfer', seed, NEW, MULTITASK + NEW, {t: 0.8 for t in NEW})
  with open(os.path.join(root, results_table.BASELINES), 'w') as f:
    json.dump({t: {'val': 0.7, 'test': 0.69} for t in MULTITASK + NEW}, f)
  return root


def test_smoothing_and_children_to_reach():
  noisy = np.linspace(0.5, 0.9, 101) + np.random.default_rng(0).normal(0, 0.05, 101)
  smoothed = measures.smooth(noisy)
  assert np.std(np.diff(smoothed)) < np.std(np.diff(noisy)) / 5
  np.testing.assert_array_equal(measures.smooth([0.5, 0.6]), [0.5, 0.6])  # too short to smooth
  assert measures.children_to_reach([0.1, 0.5, 0.95, 0.99], 0.9) == 3
  assert measures.children_to_reach([0.1, 0.5], 0.9) is None


@pytest.mark.parametrize('module', [fig2_multitask_search, fig3_parameter_distributions,
                                    fig4_transfer, fig5_task_embeddings])
def test_figures_are_written(reproduction, tmp_path, module):
  path = module.make(reproduction, str(tmp_path))
  assert path == str(tmp_path / module.FILENAME)
  with open(path, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert os.path.getsize(path) > 10_000


def test_task_embedding_correlations_cover_old_and_new_tasks(reproduction):
  names, matrix = fig5_task_embeddings.correlations(reproduction)
  assert names == MULTITASK + NEW
  np.testing.assert_allclose(np.diag(matrix), 1.0, rtol=1e-6)
  np.testing.assert_allclose(matrix, matrix.T)


def test_results_table_lists_every_task_and_search(reproduction, tmp_path):
  results_table.make(reproduction, str(tmp_path))
  with open(tmp_path / 'results_table.csv') as f:
    rows = list(csv.DictReader(f))
  assert [(r['task'], r['search']) for r in rows] == (
      [(t, 'multitask') for t in MULTITASK] + [(t, 'on_policy') for t in MULTITASK] +
      [(t, 'scratch') for t in NEW] + [(t, 'transfer') for t in NEW])
  for row in rows:
    assert row['seeds'] == '2' and row['children_per_seed'] == str(CHILDREN)
    assert 0.85 < float(row['best_val']) <= 1.0 and row['hand_tuned_val'] == '0.7'
  assert '| rt_snippets | multitask | 2 | 60 |' in (tmp_path / 'results_table.md').read_text()


def test_report_puts_numbers_beside_each_claim(reproduction, tmp_path):
  path = report.make(reproduction, str(tmp_path))
  text = open(path).read()
  for heading in ('differentiates tasks', 'Off-policy vs on-policy', 'Transfer starts better',
                  'Task embeddings', 'hand-tuned'):
    assert heading in text
  # The synthetic transfer runs start at 0.8 and scratch at 0.5: transfer must win.
  ratios = [float(line.split('scratch / transfer = ')[1].rstrip('*'))
            for line in text.splitlines() if 'scratch / transfer = ' in line]
  assert len(ratios) == len(NEW) and all(r > 1.5 for r in ratios)
  assert 'first 16 children 0.8' in text
  assert 'corr(polarity_reviews, rt_snippets) = ' in text
  assert text.count('better on validation') == len(MULTITASK) * 2 + len(NEW) * 2
