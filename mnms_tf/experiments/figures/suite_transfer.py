"""The suite experiment's curves, table and REPORT.md section (mnms_tf/experiments/suite.py).

  python -m mnms_tf.experiments.figures.suite_transfer [--root_dir=runs/suite]

Per held-out task, the best validation accuracy found so far against children trained,
per variant (mean over seeds, band = min-max), with the line at `reach_fraction` of the
task's best-known accuracy. The table gives, per task and variant, the children needed to
reach that line and the mean accuracy of the first children; the section, the speed-ups
over scratch and their geometric mean. With a value network in the experiment, also
suite_inference.png and the section's inference table: what the network predicted for each
held-out task's children, and how its suggestions fared.
"""
import csv
import dataclasses
import os

import numpy as np

from mnms_tf.experiments import analysis
from mnms_tf.experiments.figures import common
from mnms_tf.experiments.figures import report
from mnms_tf.experiments.figures import suite_similarity
from mnms_tf.experiments import suite as suite_experiment
from mnms_tf import paths
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.transfer import measures
from mnms_tf.transfer import value_network

FILENAME, TABLE, INFERENCE = 'suite_transfer.png', 'suite_table', 'suite_inference.png'
COLORS = {'random': 'tab:brown', 'scratch': 'tab:gray', 'transfer': 'tab:orange',
          'nearest': 'tab:blue', 'similarity_weighted': 'tab:green', 'warm_configs': 'tab:red',
          'suggested': 'tab:purple', 'tpe': 'tab:cyan', 'tpe_warm': 'tab:olive',
          'keras_tuner': 'tab:pink'}


def _panels(tasks, width, height):
  """A figure with one panel per task, three to a row; unused panels hidden."""
  columns = min(3, len(tasks))
  rows = -(-len(tasks) // columns)
  fig, axes = common.plt.subplots(rows, columns, figsize=(width * columns, height * rows),
                                  squeeze=False)
  for axis in list(axes.flat)[len(tasks):]:
    axis.axis('off')
  return fig, axes


def figure(root_dir, protocol, results, output_dir, filename=FILENAME):
  tasks = list(results)
  fig, axes = _panels(tasks, 5.2, 3.8)
  for axis, task in zip(axes.flat, tasks):
    for variant in results[task]['variants']:
      curves = [measures.best_so_far(suite_experiment.curve(protocol, r, task)) for r in
                suite_experiment.finished_runs(root_dir, protocol, task, variant)]
      length = min(len(c) for c in curves)
      stacked = np.stack([c[:length] for c in curves])
      common.band(axis, np.arange(1, length + 1), stacked.mean(axis=0), stacked.min(axis=0),
                  stacked.max(axis=0), variant, COLORS.get(variant))
    axis.axhline(protocol.reach_fraction * results[task]['best_known'], color='k',
                 linestyle=':', linewidth=1)
    axis.set(title=task, xlabel='children trained for the task',
             ylabel='best validation accuracy so far')
    axis.grid(alpha=0.3)
  axes.flat[0].legend(fontsize=8, loc='lower right')
  fig.suptitle(f'Held-out tasks: best model found so far (mean over seeds, band = min-max); '
               f'dotted: {protocol.reach_fraction:.0%} of the best known')
  fig.tight_layout()
  return common.save(fig, output_dir, filename)


def reach_counts(measured):
  """The children to reach per seed, '>' marking a search that never did."""
  return ', '.join(f'{r}' if ok else f'>{r}'
                   for r, ok in zip(measured['reach'], measured['reached']))


def _reach_text(measured):
  return f'{np.mean(measured["reach"]):.1f} ({reach_counts(measured)})'


def nearest_tasks(root_dir, protocol, task):
  """(nearest pre-training task, similarity), as a warm-started run recorded it."""
  for variant in protocol.variants:
    for run in suite_experiment.finished_runs(root_dir, protocol, task, variant):
      similarities = (run_dir_lib.read_info(run).get('task_similarities') or {}).get(task)
      if similarities:
        nearest = max(similarities, key=similarities.get)
        return nearest, similarities[nearest]
  return None, None


def table(root_dir, protocol, results, output_dir):
  """suite_table.md and .csv: one row per (task, variant)."""
  header = ['task', 'nearest pre-training task', 'best known', 'variant', 'seeds',
            f'children to reach {protocol.reach_fraction:.0%} (per seed)',
            f'mean of first {protocol.first_children}', 'best found (mean)']
  rows = []
  for task, result in results.items():
    nearest, similarity = nearest_tasks(root_dir, protocol, task)
    for variant, measured in result['variants'].items():
      rows.append([task, f'{nearest} ({similarity:.2f})' if nearest else '-',
                   f'{result["best_known"]:.3f}', variant, len(measured['reach']),
                   _reach_text(measured), f'{np.mean(measured["first"]):.3f}',
                   f'{np.mean(measured["best"]):.3f}'])
  with open(os.path.join(output_dir, TABLE + '.csv'), 'w', newline='') as f:
    csv.writer(f).writerows([header] + rows)
  lines = common.markdown_table(header, rows)
  with open(os.path.join(output_dir, TABLE + '.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  return lines


def _children(run_dirs):
  return sum(len(analysis.accuracy_curve(r, t)) for r in run_dirs
             for t in analysis.run_tasks(r))


LOOSER_FRACTIONS = (0.97, 0.95)  # secondary: how the verdict moves with the threshold


def summary_lines(root_dir, protocol, results):
  """Per variant, over the held-out tasks: the geometric-mean speed-up over scratch at the
  protocol's fraction of the best known and at looser ones, the searches that never reached
  it, and the mean accuracy of the first children (mean over tasks and seeds)."""
  fractions = (protocol.reach_fraction,) + LOOSER_FRACTIONS
  measured = {f: suite_experiment.measures(root_dir, dataclasses.replace(
      protocol, reach_fraction=f)) for f in fractions}
  ratios = {f: suite_experiment.speedups(m) for f, m in measured.items()}
  header = (['variant'] + [f'speed-up at {f:.0%} (missed)' for f in fractions] +
            [f'mean of first {protocol.first_children}'])
  out = ['Over the held-out tasks: geometric-mean speed-up over scratch (searches that never '
         'reached the threshold in their budget, of all), and the mean accuracy of the first '
         'children (mean over tasks of the mean over seeds):', '',
         '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for variant in protocol.variants:
    cells = []
    for f in fractions:
      runs = [ok for r in measured[f].values() if variant in r['variants']
              for ok in r['variants'][variant]['reached']]
      ratio = ratios[f].get(variant, {}).get(None)
      cells.append(f'{ratio:.2f}x' if ratio else '1 (baseline)')
      cells[-1] += f' ({runs.count(False)}/{len(runs)})'
    first = [np.mean(r['variants'][variant]['first']) for r in results.values()
             if variant in r['variants']]
    out.append(f'| {variant} | ' + ' | '.join(cells) + f' | {np.mean(first):.3f} |')
  return out


def section(root_dir, protocol, results, table_lines, agreement):
  ratios = suite_experiment.speedups(results)
  held_out = [r for t in results for v in results[t]['variants']
              for r in suite_experiment.finished_runs(root_dir, protocol, t, v)]
  pretrain = os.path.join(root_dir, suite_experiment.PRETRAIN)
  out = [report.SUITE_HEADING,
         'Sequel (arXiv 1803.02780): a controller pre-trained on 8 tasks converges "faster by '
         'over an order of magnitude on many tasks". Warm starts from the most similar task '
         '(arXiv 2205.06355): 60% less search cost.',
         f'- Pre-trained on {", ".join(protocol.pretraining_tasks)}: '
         f'{protocol.pretraining_iterations} iterations, {_children([pretrain])} children. '
         f'Held out: {len(held_out)} finished searches ({len(results)} tasks x '
         f'{len(protocol.variants)} variants x {protocol.seeds} seeds when complete), '
         f'{protocol.held_out_iterations} iterations of 8 children each '
         f'({_children(held_out)} children in all); the same child seeds for every variant.',
         f'- Best known = the best validation accuracy of any child of any of these searches '
         f'on the task; a search that never reaches {protocol.reach_fraction:.0%} of it counts '
         f'as its whole budget (">").',
         '', '![suite_transfer](suite_transfer.png)', '![suite_similarity](suite_similarity.png)',
         ''] + table_lines + ['',
         f'Speed-up to {protocol.reach_fraction:.0%} of the best known, scratch / variant '
         '(mean children over seeds):', '']
  tasks = list(results)
  out += ['| variant | ' + ' | '.join(tasks) + ' | **geometric mean** |',
          '|' + '---|' * (len(tasks) + 2)]
  for variant, by_task in ratios.items():
    cells = [f'{by_task[t]:.2f}' if t in by_task else '-' for t in tasks]
    out.append(f'| {variant} | ' + ' | '.join(cells) + f' | **{by_task[None]:.2f}** |')
  out += [''] + summary_lines(root_dir, protocol, results)
  if agreement is not None:
    out += ['', f'- Task similarity (Task2Vec) against the learned controller task embeddings '
                f'(right panel): Spearman {agreement:+.2f} over the task pairs both define.']
  return out


def inference_figure(measured, output_dir):
  """Predicted against real validation accuracy of every stored child of each held-out
  task; the suggested top-1's real accuracies, the median random config and the best known."""
  tasks = list(measured)
  fig, axes = _panels(tasks, 4.6, 4)
  for axis, task in zip(axes.flat, tasks):
    m = measured[task]
    axis.scatter(m['predicted'], m['real'], s=4, alpha=0.3, color='tab:gray')
    for real in m.get('suggested_accuracy', ()):
      axis.scatter([m['suggested_predicted']], [real], marker='*', s=120, color='tab:purple')
    if 'median_random' in m:
      axis.axhline(m['median_random'], color='tab:brown', linestyle='--', linewidth=1)
    axis.axhline(m['best_known'], color='k', linestyle=':', linewidth=1)
    axis.set(title=f'{task}: Spearman {m["spearman"]:+.2f}', xlabel='predicted',
             ylabel='real validation accuracy')
  fig.suptitle('Value network fitted on the pre-training trials, on the held-out tasks\' '
               'children; star: suggested top-1 (one per seed), dashed: median random '
               'config, dotted: best known')
  fig.tight_layout()
  return common.save(fig, output_dir, INFERENCE)


def inference_lines(root_dir, protocol, task_features, output_dir):
  """The value network's section: what it knew of each held-out task before any child."""
  if not os.path.exists(os.path.join(root_dir, suite_experiment.VALUE_NETWORK,
                                     value_network.INFO)):
    return []
  representations = {t: task_features.representation(t) for t in protocol.held_out_tasks}
  measured = suite_experiment.inference_measures(root_dir, protocol, representations)
  inference_figure(measured, output_dir)
  out = ['', '### Architecture inference before any child (arXiv 1902.05781)',
         'A value network fitted on the pre-training trials only '
         '(`mnms_tf/transfer/value_network.py`) suggests configs for each held-out task; the '
         "'suggested' searches evaluate its top 4 first. Spearman: its predictions against "
         'the real validation accuracy of every child stored for the task.', '',
         f'![suite_inference]({INFERENCE})', '',
         '| task | Spearman (children) | suggested top-1: predicted / real per seed | median '
         'random config | best of a transfer\'s first 8 | best known | top-1 config |',
         '|---|---|---|---|---|---|---|']
  for task, m in measured.items():
    real = ', '.join(f'{a:.3f}' for a in m.get('suggested_accuracy', ()))
    config = ', '.join(f'{k}={v}' for k, v in (m.get('suggested') or {}).items())
    out.append(f'| {task} | {m["spearman"]:+.2f} ({m["trials"]}) | '
               f'{m.get("suggested_predicted", float("nan")):.3f} / {real} | '
               f'{m.get("median_random", float("nan")):.3f} | '
               f'{m.get("transfer_first_8", float("nan")):.3f} | {m["best_known"]:.3f} | '
               f'{config} |')
  return out


def make(root_dir, output_dir, task_features=None):
  """`task_features`: what the searches described tasks by (default: real tasks',
  `suite.task_features` in the default data directory)."""
  protocol = suite_experiment.Protocol.load(root_dir)
  results = suite_experiment.measures(root_dir, protocol)
  if not results:
    raise FileNotFoundError(f'No held-out searches in {root_dir}')
  os.makedirs(output_dir, exist_ok=True)
  path = figure(root_dir, protocol, results, output_dir)
  lines = table(root_dir, protocol, results, output_dir)
  agreement = suite_similarity.agreement(output_dir)
  report.write_section(
      output_dir, section(root_dir, protocol, results, lines, agreement) +
      inference_lines(root_dir, protocol, task_features or suite_experiment.task_features(
          root_dir, paths.default_data_dir()), output_dir))
  return path


if __name__ == '__main__':
  common.run(make, default_root='runs/suite')
