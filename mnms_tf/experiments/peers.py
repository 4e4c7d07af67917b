r"""MNMS against the searchers a user would pick instead, on the suite's held-out tasks.

  python -m mnms_tf.bin.reproduce --experiment=peers [--root_dir=runs/suite] [--seeds=3] \
      [--workers=N] [--output_dir=paper_figures] [--skip_search] \
      [--gin_bindings="PeerComparison.methods = ['random', 'tpe']"] \
      [--gin_bindings="PeerComparison.tasks = ['french_langid']"]

Every method is a search by the same runner (mnms_tf/search/runner.py) in the suite
experiment's directory (mnms_tf/experiments/suite.py, mnms_tf/gin/search/suite.gin), so all
of them train the same children (the same trainer, data and child seed for slot k of
iteration i) and get the same budget in children (the protocol's held-out budget: 10
iterations of 8):
- random: uniform configs; scratch: the MNMS controller from scratch;
- transfer: the controller pre-trained on the suite's 8 pre-training tasks, with the paper's
  random task embedding; warm_configs: transferred, its embedding warm-started from the
  most similar pre-training tasks and their best stored configs evaluated first;
  suggested: transferred and warm-started, evaluating a value network's 4 suggestions first;
- tpe: Optuna's TPESampler over the same categorical space; tpe_warm: the same with the
  most similar pre-training task's 4 best configs enqueued first (what Optuna users do by
  hand); keras_tuner: Keras Tuner's BayesianOptimizationOracle (mnms_tf/controllers/peers.py).
Searches already in --root_dir (e.g. from `reproduce --experiment=suite`) are reused, not
trained again; the rest run (resumable: run it again to continue) before the report.

Measures, per task and method over seeds: the best validation accuracy after 8, 32 and all
children; the children needed to reach `reach_fraction` (99%) of the task's best-known
accuracy (the best child of any compared method's search; a search that never reaches it
counts as its whole budget, marked '>'); and the ratio random / method of those counts.
Summary: per method, the distinct children of a search (a searcher may train a config
again: with another child seed, its validation accuracy is another draw), the best
accuracy after 8, 32 and all children and the test accuracy of the child the search would
pick (best validation accuracy), and the geometric mean over tasks of that ratio and of the
children over every (task, seed), at 99% and at the looser 97% and 95%. Writes
search_vs_peers.csv, .md and .png (best-so-far curves, mean over seeds, band min-max).
"""
import csv
import dataclasses
import os
from typing import Optional, Sequence

from absl import logging
import gin
import numpy as np

from mnms_tf import errors
from mnms_tf.experiments.figures import common
from mnms_tf.experiments.figures import suite_transfer
from mnms_tf.experiments import suite as suite_experiment
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import measures as measures_lib

METHODS = ('random', 'scratch', 'transfer', 'warm_configs', 'suggested', 'tpe', 'tpe_warm',
           'keras_tuner')
PEERS = ('random', 'tpe', 'tpe_warm', 'keras_tuner')
FILENAME = 'search_vs_peers'
CHECKPOINTS = (8, 32)  # best accuracy after this many children, and after all


@gin.configurable
@dataclasses.dataclass(frozen=True)
class PeerComparison:
  """What the comparison restricts the suite's protocol to: the methods (suite variants)
  and the held-out tasks (None: the protocol's)."""
  methods: Sequence[str] = METHODS
  tasks: Optional[Sequence[str]] = None


def comparison_protocol(root_dir, seeds=None):
  """The suite's protocol (the experiment's own if it has run, else gin's `Protocol`),
  restricted to gin's `PeerComparison` and `seeds` (None: the protocol's)."""
  protocol = (suite_experiment.Protocol.load(root_dir) if os.path.exists(
      os.path.join(root_dir, suite_experiment.PROTOCOL)) else suite_experiment.Protocol())
  comparison = PeerComparison()
  unknown = sorted(set(comparison.methods) - set(suite_experiment.VARIANTS))
  if unknown:
    raise errors.UserError(f'PeerComparison.methods: unknown {unknown}; known: '
                           f'{list(suite_experiment.VARIANTS)}')
  return dataclasses.replace(protocol, variants=tuple(comparison.methods),
                             held_out_tasks=tuple(comparison.tasks or protocol.held_out_tasks),
                             seeds=seeds or protocol.seeds)


def _best_after(protocol, root_dir, task, method):
  """[seeds, len(CHECKPOINTS) + 1] best accuracy after each checkpoint and after all."""
  return np.array([[measures_lib.best_after(c, k) for k in CHECKPOINTS] + [c.max()] for c in (
      suite_experiment.curve(protocol, run, task)
      for run in suite_experiment.finished_runs(root_dir, protocol, task, method))])


def table_rows(root_dir, protocol, results):
  """One row per (task, method), as numbers: seeds; the mean and std over seeds of the best
  after 8 / 32 / all children and of the children to reach; the children to reach per seed
  ('>' where never reached); and random's mean children / the method's."""
  rows = []
  for task, result in results.items():
    variants = result['variants']
    for method, measured in variants.items():
      best = _best_after(protocol, root_dir, task, method)
      ratio = (np.mean(variants['random']['reach']) / np.mean(measured['reach'])
               if 'random' in variants else float('nan'))
      rows.append([task, method, len(measured['reach'])] +
                  [v for m, sd in zip(best.mean(0), best.std(0)) for v in (m, sd)] +
                  [np.mean(measured['reach']), np.std(measured['reach']),
                   suite_transfer.reach_counts(measured), ratio])
  return rows


def _pretty(row):
  """A table row for reading: means ± std."""
  task, method, seeds, *numbers, per_seed, ratio = row
  pairs = [f'{m:.3f} ± {sd:.3f}' for m, sd in zip(numbers[0:6:2], numbers[1:6:2])]
  return ([task, method, seeds] + pairs + [f'{numbers[6]:.1f} ± {numbers[7]:.1f}', per_seed,
                                           f'{ratio:.2f}'])


def _search_facts(protocol, root_dir, task, method):
  """Means over seeds of the distinct children (canonical configs) a search trained, and
  of the test accuracy of the child it would pick (the first with its best validation
  accuracy)."""
  distinct, picked = [], []
  for run in suite_experiment.finished_runs(root_dir, protocol, task, method):
    with store_lib.TrialStore(run, read_only=True) as store:
      rows = store.trials(task=task)[:suite_experiment.budget_children(protocol, run)]
    distinct.append(len({r['config_hash'] for r in rows}))
    picked.append(max(rows, key=lambda r: r['val_accuracy'])['test_accuracy'])
  return np.mean(distinct), np.mean(picked)


def summary_rows(root_dir, protocol, results, rows_per_task):
  """Per method: the distinct children of a search, the best accuracy after 8, 32 and all
  children (from `table_rows`) and the picked child's test accuracy (means over tasks and
  seeds); and at each
  fraction of the best known, the geometric mean over tasks of random / method (mean
  children over seeds), the geometric mean of the children over every (task, seed), and
  the searches that never reached it."""
  rows = {}
  for method in protocol.variants:
    tasks = [task for task in results if method in results[task]['variants']]
    best = [row[3:9:2] for row in rows_per_task if row[1] == method]  # the means
    distinct, picked = np.mean([_search_facts(protocol, root_dir, task, method)
                                for task in tasks], axis=0)
    rows[method] = ([method, f'{distinct:.1f}'] + [f'{b:.3f}' for b in np.mean(best, axis=0)] +
                    [f'{picked:.3f}'])
  for fraction in (protocol.reach_fraction,) + suite_transfer.LOOSER_FRACTIONS:
    at_fraction = suite_experiment.measures(root_dir, dataclasses.replace(
        protocol, reach_fraction=fraction))
    ratios = suite_experiment.speedups(at_fraction, baseline='random')
    for method in protocol.variants:
      reach = [r for t in at_fraction.values() if method in t['variants']
               for r in t['variants'][method]['reach']]
      missed = [not ok for t in at_fraction.values() if method in t['variants']
                for ok in t['variants'][method]['reached']]
      ratio = ratios.get(method, {}).get(None, 1.0 if method == 'random' else float('nan'))
      rows[method] += [f'{ratio:.2f}x', f'{measures_lib.geometric_mean(reach):.1f}',
                       f'{sum(missed)}/{len(missed)}']
  return list(rows.values())


def report(root_dir, protocol, output_dir):
  """Writes the tables and the figure; returns the markdown lines."""
  results = suite_experiment.measures(root_dir, protocol)
  if not results:
    raise errors.UserError(f'No finished searches of {list(protocol.variants)} in {root_dir}')
  fraction = f'{protocol.reach_fraction:.0%}'
  after = [f'best after {k}' for k in CHECKPOINTS] + ['best after all']
  header = (['task', 'method', 'seeds'] + after + [f'children to {fraction}', 'per seed',
                                                   'random / method'])
  csv_header = (['task', 'method', 'seeds'] +
                [f'{name} {stat}' for name in after + [f'children to {fraction}']
                 for stat in ('mean', 'std')] + [f'children to {fraction} per seed',
                                                 'random / method'])
  rows = table_rows(root_dir, protocol, results)
  fractions = (protocol.reach_fraction,) + suite_transfer.LOOSER_FRACTIONS
  summary_header = (['method', 'distinct children (mean)'] +
                    [f'best after {k} (mean)' for k in CHECKPOINTS] +
                    ['best after all (mean)', 'its test accuracy (mean)'] +
                    [f'{name} at {f:.0%}' for f in fractions for name in (
                        'random / method (geomean over tasks)',
                        'children (geomean over tasks x seeds)', 'missed')])
  summary = summary_rows(root_dir, protocol, results, rows)
  os.makedirs(output_dir, exist_ok=True)
  with open(os.path.join(output_dir, FILENAME + '.csv'), 'w', newline='') as f:
    csv.writer(f).writerows([csv_header] + rows)
  lines = (common.markdown_table(header, [_pretty(r) for r in rows]) + [''] +
           common.markdown_table(summary_header, summary))
  with open(os.path.join(output_dir, FILENAME + '.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  suite_transfer.figure(root_dir, protocol, results, output_dir, filename=FILENAME + '.png')
  logging.info('Wrote %s.{csv,md,png} in %s', FILENAME, output_dir)
  return lines
