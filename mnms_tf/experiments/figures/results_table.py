"""The results table: best discovered model per task vs the hand-tuned baseline.

  python -m mnms_tf.experiments.figures.results_table [--root_dir=runs/reproduction]

For every task of every experiment: the validation accuracy of the best child each seed
found, and the test accuracy of that same child (means over seeds, with the spread), next
to the hand-tuned baseline (ROOT/baselines.json, written by mnms_tf.bin.reproduce).
Writes results_table.md and results_table.csv.
"""
import csv
import json
import os

import numpy as np

from mnms_tf.experiments import analysis
from mnms_tf.experiments.figures import common

BASELINES = 'baselines.json'
COLUMNS = ('task', 'search', 'seeds', 'children_per_seed', 'best_val', 'best_val_spread',
           'test_of_best', 'test_of_best_spread', 'hand_tuned_val', 'hand_tuned_test')


def rows(root_dir):
  baselines = {}
  if os.path.exists(os.path.join(root_dir, BASELINES)):
    with open(os.path.join(root_dir, BASELINES)) as f:
      baselines = json.load(f)
  table = []
  for experiment in analysis.EXPERIMENTS:
    runs = analysis.experiment_runs(root_dir, experiment)
    if not runs:
      continue
    for task in analysis.run_tasks(runs[0]):
      best = [analysis.best_trial(r, task) for r in runs]
      best = [b for b in best if b is not None]
      if not best:
        continue
      val = np.array([b['val_accuracy'] for b in best])
      test = np.array([b['test_accuracy'] for b in best])
      children = np.mean([len(analysis.accuracy_curve(r, task)) for r in runs])
      baseline = baselines.get(task, {})
      table.append(dict(task=task, search=experiment, seeds=len(best),
                        children_per_seed=int(round(children)), best_val=val.mean(),
                        best_val_spread=val.max() - val.min(), test_of_best=test.mean(),
                        test_of_best_spread=test.max() - test.min(),
                        hand_tuned_val=baseline.get('val'), hand_tuned_test=baseline.get('test')))
  return table


def _cell(value):
  if value is None:
    return '-'
  return f'{value:.3f}' if isinstance(value, float) else str(value)


def make(root_dir, output_dir):
  table = rows(root_dir)
  if not table:
    raise FileNotFoundError(f'No runs with successful children in {root_dir}')
  os.makedirs(output_dir, exist_ok=True)
  with open(os.path.join(output_dir, 'results_table.csv'), 'w', newline='') as f:
    writer = csv.DictWriter(f, COLUMNS)
    writer.writeheader()
    writer.writerows(table)
  lines = ['| task | search | seeds | children per seed | best val (spread) | test of best '
           '(spread) | hand-tuned val | hand-tuned test |', '|' + '---|' * 8]
  for row in table:
    lines.append(
        f'| {row["task"]} | {row["search"]} | {row["seeds"]} | {row["children_per_seed"]} | '
        f'{row["best_val"]:.3f} ({row["best_val_spread"]:.3f}) | {row["test_of_best"]:.3f} '
        f'({row["test_of_best_spread"]:.3f}) | {_cell(row["hand_tuned_val"])} | '
        f'{_cell(row["hand_tuned_test"])} |')
  path = os.path.join(output_dir, 'results_table.md')
  with open(path, 'w') as f:
    f.write('\n'.join(lines) + '\n')
  return path


if __name__ == '__main__':
  common.run(make)
