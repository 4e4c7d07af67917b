"""REPORT.md: each claim of the paper beside our measurement, from a reproduction directory.

  python -m mnms_tf.experiments.figures.report [--root_dir=runs/reproduction]

Expects the figures and the results table written before it (mnms_tf.bin.reproduce does
this) and links them.
"""
import os

import numpy as np

from mnms_tf.experiments import analysis
from mnms_tf.experiments.figures import common
from mnms_tf.experiments.figures import fig3_parameter_distributions
from mnms_tf.experiments.figures import fig5_task_embeddings
from mnms_tf.experiments.figures import results_table
from mnms_tf.transfer import measures

FILENAME = 'REPORT.md'
SUITE_HEADING = '## 6. Transfer across a suite of tasks (the sequel\'s protocol)'
BENCHMARK_HEADING = '## 7. The benchmark: the true accuracy of the deployed model'
# Sections after the paper's, each written by its own experiment, kept in this order.
APPENDED_HEADINGS = (SUITE_HEADING, BENCHMARK_HEADING)
FIRST_CHILDREN = 16  # "starts better": mean accuracy of a new task's first children
REACH_FRACTION = 0.95


def _mode(choices, name, table):
  values = choices[name]
  index = int(np.argmax(table))
  return f'{values[index]} ({table[index]:.2f})'


def _paper_claims(choices, means):
  """The quantities the paper's claims are about, per task (means over seeds)."""
  lines = []
  for task, task_means in means.items():
    facts = []
    if 'embedding' in choices:
      spanish = [str(v).startswith('es') for v in choices['embedding']]
      facts.append(f'P(Spanish embedding) {task_means["embedding"][spanish].sum():.2f}')
    if 'trainable' in choices:
      fine_tune = task_means['trainable'][list(choices['trainable']).index(True)]
      facts.append(f'P(fine-tune) {fine_tune:.2f}')
    for name in ('nlayers', 'nnodes', 'iterations'):
      if name in choices:
        facts.append(f'E[{name}] {float(np.dot(task_means[name], choices[name])):.0f}')
    lines.append(f'  - {task}: ' + ', '.join(facts))
  return lines


def differentiation(root_dir, experiment):
  """Lines on what each task prefers, and the mean total-variation distance between the
  tasks' distributions (0: identical, 1: disjoint), averaged over parameters and seeds."""
  choices, per_task = fig3_parameter_distributions.distributions(root_dir, experiment)
  tasks = list(per_task)
  means = {task: {name: per_task[task][k].mean(axis=0) for k, name in enumerate(choices)}
           for task in tasks}
  lines = []
  for task in tasks:
    picks = ', '.join(f'{name} {_mode(choices, name, means[task][name])}' for name in choices)
    lines.append(f'  - {task}: {picks}')
  lines += _paper_claims(choices, means)
  distances = []
  if len(tasks) >= 2:
    for k in range(len(choices)):
      a, b = per_task[tasks[0]][k], per_task[tasks[1]][k]
      distances.append(0.5 * np.abs(a - b).sum(axis=1).mean())
  return lines, float(np.mean(distances)) if distances else float('nan')


def transfer(root_dir):
  """Per new task: first-children accuracy and children to reach 95% of the final best,
  scratch vs transfer (means over seeds)."""
  runs = {e: analysis.experiment_runs(root_dir, e) for e in ('scratch', 'transfer')}
  lines = []
  for task in analysis.run_tasks(runs['transfer'][0]):
    first, reach = {}, {e: [] for e in runs}
    for seed_runs in zip(runs['scratch'], runs['transfer']):
      curves = {e: analysis.accuracy_curve(r, task) for e, r in zip(runs, seed_runs)}
      if not all(len(c) for c in curves.values()):
        continue
      smoothed = {e: measures.smooth(c) for e, c in curves.items()}
      target = REACH_FRACTION * max(s.max() for s in smoothed.values())
      for e in runs:
        first.setdefault(e, []).append(curves[e][:FIRST_CHILDREN].mean())
        reached = measures.children_to_reach(smoothed[e], target)
        reach[e].append(reached if reached is not None else len(curves[e]))
    if not reach['transfer']:
      lines.append(f'  - {task}: no seed trained children for it in both searches')
      continue
    ratio = np.mean(reach['scratch']) / np.mean(reach['transfer'])
    lines.append(
        f'  - {task}: first {FIRST_CHILDREN} children {np.mean(first["transfer"]):.3f} '
        f'(transfer) vs {np.mean(first["scratch"]):.3f} (scratch); children to reach '
        f'{REACH_FRACTION:.0%} of the final best: {np.mean(reach["transfer"]):.0f} (transfer, '
        f'per seed {reach["transfer"]}) vs {np.mean(reach["scratch"]):.0f} (scratch, '
        f'{reach["scratch"]}): **scratch / transfer = {ratio:.2f}**')
  return lines


def embedding_lines(root_dir):
  names, matrix = fig5_task_embeddings.correlations(root_dir)
  index = {n: i for i, n in enumerate(names)}
  pairs = [('polarity_reviews', 'rt_snippets'), ('polarity_reviews', 'spanish_langid'),
           ('es_tweets', 'spanish_langid'), ('es_tweets', 'rt_snippets'),
           ('imdb_reviews', 'sst2'), ('corpus_cine', 'spanish_langid')]
  return [f'  - corr({a}, {b}) = {matrix[index[a], index[b]]:+.2f}'
          for a, b in pairs if a in index and b in index]


def _shown(path):
  """`path` relative to the working directory when under it: the same in every clone."""
  relative = os.path.relpath(path)
  return path if relative.startswith('..') else relative


def make(root_dir, output_dir):
  out = ['# MNMS reproduction: the paper\'s claims beside our numbers', '',
         f'Generated by `mnms_tf/experiments/figures/report.py` from `{_shown(root_dir)}`. '
         'Offline stand-ins: '
         'rt_snippets for SST, polarity_reviews for IMDB, es_tweets for Corpus Cine '
         '(docs/data.md). Accuracies are validation accuracies unless marked test.', '',
         '![fig2](fig2_multitask_search.png)', '![fig3](fig3_parameter_distributions.png)',
         '![fig4](fig4_transfer.png)', '![fig5](fig5_task_embeddings.png)', '']
  off_lines, off_distance = differentiation(root_dir, 'multitask')
  out += ['## 1. The multitask controller differentiates tasks',
          'Paper: Spanish embeddings for Spanish language id, English ones for SST; '
          'fine-tuning and bigger, longer-trained networks for the harder SST.',
          '- Our final multitask controllers, most likely choice of each parameter '
          '(probability, mean over seeds):'] + off_lines
  if analysis.experiment_runs(root_dir, 'on_policy'):
    _, on_distance = differentiation(root_dir, 'on_policy')
    out += ['', '## 2. Off-policy vs on-policy differentiation',
            'Paper: on-policy training is prone to converge prematurely to one design for '
            'all tasks; off-policy learns more differentiated distributions.',
            f'- Mean total-variation distance between the two tasks\' parameter distributions: '
            f'**{off_distance:.3f} off-policy** vs **{on_distance:.3f} on-policy** '
            f'({"holds" if off_distance > on_distance else "does not hold"} here).']
  if analysis.experiment_runs(root_dir, 'transfer'):
    lines = transfer(root_dir)
    out += ['', '## 3. Transfer starts better and converges faster',
            'Paper: a pre-trained controller starts from a better location and converges '
            'much faster to equally good models.'] + lines
    out += ['', '## 4. Task embeddings relate similar tasks',
            'Paper: strong correlation of IMDB with SST, and of Corpus Cine with Spanish '
            'language id.'] + embedding_lines(root_dir)
  table = results_table.rows(root_dir)
  out += ['', '## 5. Best discovered model vs hand-tuned',
          'Paper: the best discovered models outperform the hand-tuned ones.']
  for row in table:
    if row['hand_tuned_val'] is not None:
      verdict = 'better' if row['best_val'] > row['hand_tuned_val'] else 'not better'
      out.append(f'  - {row["task"]} ({row["search"]}): best val {row["best_val"]:.3f} / test '
                 f'{row["test_of_best"]:.3f} vs hand-tuned {row["hand_tuned_val"]:.3f} / '
                 f'{row["hand_tuned_test"]:.3f}: {verdict} on validation')
  out += ['', 'Full table: [results_table.md](results_table.md) (CSV beside it).', '']
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, FILENAME)
  _, appended = _split(path)
  _write(path, '\n'.join(out), appended)
  return path


def _split(path):
  """(REPORT.md before the appended sections, {heading: its section}), empty where absent."""
  if not os.path.exists(path):
    return '', {}
  with open(path) as f:
    text = f.read()
  starts = sorted((text.find(h), h) for h in APPENDED_HEADINGS if text.find(h) >= 0)
  if not starts:
    return text, {}
  ends = [at for at, _ in starts[1:]] + [len(text)]
  return text[:starts[0][0]], {h: text[at:end] for (at, h), end in zip(starts, ends)}


def _write(path, before, appended):
  if before and not before.endswith('\n\n'):
    before = before.rstrip('\n') + '\n\n'
  sections = [appended[h].rstrip('\n') + '\n' for h in APPENDED_HEADINGS if h in appended]
  with open(path, 'w') as f:
    f.write(before + '\n'.join(sections))


def write_section(output_dir, lines):
  """Puts an experiment's section (`lines`, the first one of APPENDED_HEADINGS) after the
  paper's in REPORT.md, replacing its previous one; every other section is kept."""
  if lines[0] not in APPENDED_HEADINGS:
    raise ValueError(f'A REPORT.md section starts with one of {APPENDED_HEADINGS}')
  path = os.path.join(output_dir, FILENAME)
  before, appended = _split(path)
  appended[lines[0]] = '\n'.join(lines) + '\n'
  _write(path, before, appended)
  return path


if __name__ == '__main__':
  common.run(make)
