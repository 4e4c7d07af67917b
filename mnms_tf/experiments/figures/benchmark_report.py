"""The benchmark's outputs (experiments/benchmark.py): tables, figures, REPORT.md section 7.

  python -m mnms_tf.bin.benchmark --skip_search [--root_dir=runs/benchmark]

benchmark_summary.csv (one row per method), benchmark_tasks.csv (per task and method, with
the noise floor), benchmark_rules.csv (every method under each compared deployment rule),
benchmark.md (the tables with intervals, every pair's win rate, the
methods the pairs cannot tell apart, the noise floor per task), benchmark_summary.png,
benchmark_tasks.png and REPORT.md's section 7.
"""
import csv
import os

from absl import logging
import numpy as np

from mnms_tf import errors
from mnms_tf.experiments import benchmark as benchmark_lib
from mnms_tf.experiments import regret
from mnms_tf.experiments.figures import common
from mnms_tf.experiments.figures import report as report_lib

BASELINE = benchmark_lib.BASELINE
FIRST_WITHIN = 0.01  # "the first deployed model within 1 point of μ*" (issue 28)


class NothingToReport(errors.UserError):
  pass


def make(root_dir, benchmark, space, output_dir):
  """Writes benchmark_summary.csv, benchmark_tasks.csv, benchmark.md and the figures into
  `output_dir`; returns the markdown lines."""
  truths, scored = benchmark_lib.scores(root_dir, benchmark, space)
  if not scored:
    raise NothingToReport(f'No (task, seed) with every method finished and measured in '
                          f'{root_dir}: run the benchmark first')
  methods = benchmark.methods
  budget = len(scored[0].regret)
  points = benchmark_lib.report_points(benchmark.checkpoints, budget)
  by_method = {m: [s for s in scored if s.method == m] for m in methods}
  at = {m: np.array([regret.at_children(s.regret, points) for s in by_method[m]])
        for m in methods}  # [pairs, points], pairs in the same order for every method
  resamples = benchmark.bootstrap_resamples
  ranks = np.stack([regret.average_ranks([at[m][:, k] for m in methods])
                    for k in range(len(points))], axis=1)  # [methods, points]
  tasks = sorted({s.task for s in scored})
  seeds = sorted({s.seed for s in scored})

  rank_points = [n for n in (8, 32) if n in points]
  versus = _versus(points)
  win = f'win_rate_vs_{BASELINE}_at_{versus}'
  summary = []  # one dict per method, keyed by the CSV's columns
  for i, m in enumerate(methods):
    row = {'method': m}
    for k, n in enumerate(points):
      row.update(zip((f'regret_at_{n}', f'regret_at_{n}_lo', f'regret_at_{n}_hi'),
                     regret.bootstrap_mean(at[m][:, k], resamples)))
    row.update({f'rank_at_{n}': ranks[i, points.index(n)] for n in rank_points})
    k = points.index(versus)
    row.update(zip((win, win + '_lo', win + '_hi'), regret.win_rate(
        at[m][:, k], at[BASELINE][:, k], resamples) if BASELINE in at else [float('nan')] * 3))
    row.update({'regret_area': np.mean([s.area for s in by_method[m]]),
                f'regret_at_{budget}_child_equivalents': np.mean(
                    [s.regret_by_seconds[-1] for s in by_method[m]]),
                'children_to_within': np.mean([s.reach for s in by_method[m]]),
                'never_within': sum(not s.reached for s in by_method[m]),
                'first_within_1_point': sum(np.mean([s.first_gap for s in by_method[m]
                                                     if s.task == t]) <= FIRST_WITHIN
                                            for t in tasks),
                'tasks': len(tasks), 'seeds': len(seeds)})
    summary.append(row)

  task_header = (['task', 'method', 'seeds'] + [f'regret_at_{n}' for n in points] +
                 ['regret_area', 'children_to_within', 'never_within', 'first_gap', 'mu_star',
                  'mu_median',
                  'mu_se', 'draw_std_val', 'regret_floor'])
  task_rows = []
  for task in tasks:
    t = truths[task]
    for m in methods:
      mine = [s for s in by_method[m] if s.task == task]
      task_rows.append([task, m, len(mine)] + list(np.mean(
          [regret.at_children(s.regret, points) for s in mine], axis=0)) +
                       [np.mean([s.area for s in mine]), np.mean([s.reach for s in mine]),
                        sum(not s.reached for s in mine), np.mean([s.first_gap for s in mine]),
                        t.mu_star, t.mu_median, t.mu_se,
                        t.draw_std_val, t.regret_floor])

  os.makedirs(output_dir, exist_ok=True)
  for name, header, rows in (('benchmark_summary.csv', list(summary[0]),
                              [list(r.values()) for r in summary]),
                             ('benchmark_tasks.csv', task_header, task_rows)):
    with open(os.path.join(output_dir, name), 'w', newline='') as f:
      csv.writer(f).writerows([header] + [[_number(v) for v in r] for r in rows])
  lines = _markdown(benchmark, truths, tasks, seeds, methods, points, at, summary)
  lines += _rules(root_dir, benchmark, space, scored, points, output_dir)
  with open(os.path.join(output_dir, 'benchmark.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
  report_lib.write_section(output_dir, _report_section(tasks, seeds, points, summary, truths,
                                                       lines))
  _figures(output_dir, methods, points, at, ranks, by_method, tasks, truths)
  logging.info('Wrote benchmark_summary.csv, benchmark_tasks.csv, benchmark_rules.csv, '
               'benchmark.md and figures '
               'in %s', output_dir)
  return lines


def _rules(root_dir, benchmark, space, scored, points, output_dir):
  """benchmark_rules.csv and benchmark.md's lines: every method deploying by each compared
  rule, on the pairs scored under its own, and the win rate of the rule over its own."""
  own = {(s.task, s.seed, s.method): s for s in scored}
  versus = _versus(points)
  k = points.index(versus)
  shown = [n for n in (8, 32) if n in points[:-1]] + [points[-1]]
  header = ['method', 'rule', 'pairs'] + [f'regret_at_{n}' for n in shown] + [
      f'win_rate_vs_own_rule_at_{versus}', 'lo', 'hi']
  rows = []
  for rule in benchmark.compared_rules:
    _, by_rule = benchmark_lib.scores(root_dir, benchmark, space, rule)
    for m in benchmark.methods:
      pairs = [(own[key], s) for s in by_rule if s.method == m
               for key in [(s.task, s.seed, s.method)] if key in own]
      if not pairs:
        continue
      mine = np.array([regret.at_children(s.regret, points) for _, s in pairs])
      theirs = np.array([regret.at_children(o.regret, points) for o, _ in pairs])
      rows.append([m, rule, len(pairs)] + [mine[:, points.index(n)].mean() for n in shown] +
                  list(regret.win_rate(mine[:, k], theirs[:, k],
                                       benchmark.bootstrap_resamples)))
  with open(os.path.join(output_dir, 'benchmark_rules.csv'), 'w', newline='') as f:
    csv.writer(f).writerows([header] + [[_number(v) for v in r] for r in rows])
  return ['Every method deploying by each rule (search/incumbent.py) on the same searches: mean '
          f'regret, and the win rate of the rule over the method\'s own rule at {versus} '
          'children (0.5: the same configs; "~": its interval holds 0.5):', ''] + (
              common.markdown_table(
                  ['method', 'rule', 'pairs'] + [f'regret at {n}' for n in shown] +
                  [f'win rate over its own rule at {versus}'],
                  [r[:3] + [f'{v:.3f}' for v in r[3:3 + len(shown)]] +
                   [f'{"~" if r[-2] <= 0.5 <= r[-1] else ""}{r[-3]:.2f} '
                    f'[{r[-2]:.2f}, {r[-1]:.2f}]'] for r in rows]) + [''])


def _versus(points):
  """The n at which methods are compared pairwise: 32 (issue 27), or the whole budget."""
  return 32 if 32 in points else points[-1]


def _interval(row, name, digits=3):
  return (f'{row[name]:.{digits}f} [{row[name + "_lo"]:.{digits}f}, '
          f'{row[name + "_hi"]:.{digits}f}]')


def _report_section(tasks, seeds, points, summary, truths, lines):
  """REPORT.md's section: the summary at 8, 32 and the budget, and the noise floor."""
  shown = [n for n in (8, 32) if n in points[:-1]] + [points[-1]]
  ranks = [name for name in summary[0] if name.startswith('rank_at_')]
  win = next(name for name in summary[0] if name.startswith(f'win_rate_vs_{BASELINE}_at_') and
             not name.endswith(('_lo', '_hi')))
  rows = [[row['method']] + [_interval(row, f'regret_at_{n}') for n in shown] +
          [f'{row[name]:.2f}' for name in ranks] + [_interval(row, win, 2)] for row in summary]
  floors = [t.regret_floor for t in truths.values() if np.isfinite(t.regret_floor)]
  return ([report_lib.BENCHMARK_HEADING,
           f'Generated by `mnms_tf/experiments/figures/benchmark_report.py`: {len(tasks)} '
           f'suite tasks, each held out once, x {len(seeds)} seeds; the normalized regret (0: '
           f'the best config '
           f'known, 1: a median random one) of the true accuracy (mean test accuracy over '
           f'unused seeds) of the config each method would deploy, mean with a bootstrap 95% '
           f'interval over (task, seed). Noise floor: the standard error of μ is '
           f'{np.median(floors):.3f} in regret units (median over tasks; largest '
           f'{max(floors):.3f}).', ''] +
          common.markdown_table(['method'] + [f'regret at {n}' for n in shown] +
                                [name.replace('_', ' ') for name in ranks] +
                                [win.replace('_', ' ')], rows) +
          ['', next(line for line in lines if line.startswith('Indistinguishable')),
           'All tables, the win rates of every pair and the noise floor per task: '
           '[benchmark.md](benchmark.md); figures: [benchmark_summary.png]'
           '(benchmark_summary.png), [benchmark_tasks.png](benchmark_tasks.png).'])


def _number(value):
  return f'{value:.4f}' if isinstance(value, (float, np.floating)) else value


def _markdown(benchmark, truths, tasks, seeds, methods, points, at, summary):
  """benchmark.md: the summary with intervals, win rates at 32, the noise floor, and
  which methods the pairs cannot tell apart."""
  resamples = benchmark.bootstrap_resamples
  lines = [f'{len(tasks)} held-out tasks x {len(seeds)} seeds; budget {points[-1]} children; '
           f'ground truth over {benchmark.truth_seeds} seeds no search uses. Normalized '
           f'regret of the deployed config (0: the best known config, 1: a median random '
           f'one), mean over (task, seed) with a bootstrap 95% interval; rank among the '
           f'{len(methods)} methods (1 best).', '']
  rank_points = [n for n in points if n in (8, 32)]
  header = (['method'] + [f'regret at {n}' for n in points] +
            [f'rank at {n}' for n in rank_points] +
            ['regret area', 'children to within max(1 point, SE) of μ* (never)',
             'tasks whose first model is within 1 point of μ*'])
  rows = [[row['method']] + [_interval(row, f'regret_at_{n}') for n in points] +
          [f'{row[f"rank_at_{n}"]:.2f}' for n in rank_points] +
          [f'{row["regret_area"]:.3f}',
           f'{row["children_to_within"]:.1f} ({row["never_within"]})',
           f'{row["first_within_1_point"]} of {row["tasks"]}'] for row in summary]
  lines += common.markdown_table(header, rows) + ['']
  versus = _versus(points)
  k = points.index(versus)
  lines += [f'Win rate of the row over the column at {versus} children (a tie counts one '
            f'half), with a paired bootstrap 95% interval; "~" where the interval holds 0.5:',
            '']
  matrix, ties = [], []
  for a in methods:
    cells = [a]
    for b in methods:
      if a == b:
        cells.append('')
        continue
      rate, lo, hi = regret.win_rate(at[a][:, k], at[b][:, k], resamples)
      tie = lo <= 0.5 <= hi
      cells.append(f'{"~" if tie else ""}{rate:.2f} [{lo:.2f}, {hi:.2f}]')
      if tie and a < b:
        ties.append(f'{a} ~ {b}')
    matrix.append(cells)
  lines += common.markdown_table([''] + list(methods), matrix) + ['']
  lines += [f'Indistinguishable at {versus} children: ' + (', '.join(ties) or 'none'), '']
  lines += ['The noise floor per task: μ* and μ_med; the standard error of μ and the seed '
            'spread of one draw (median over the pool); the standard error of μ in regret '
            'units (differences of regret below it are noise).', '']
  lines += common.markdown_table(
      ['task', 'μ*', 'μ_med', 'SE of μ', 'one draw: val std', 'one draw: test std',
       'regret floor', 'child-equivalent (s)'],
      [[t, f'{truths[t].mu_star:.3f}', f'{truths[t].mu_median:.3f}', f'{truths[t].mu_se:.4f}',
        f'{truths[t].draw_std_val:.4f}', f'{truths[t].draw_std_test:.4f}',
        f'{truths[t].regret_floor:.3f}', f'{truths[t].child_seconds:.2f}'] for t in tasks])
  return lines


def _figures(output_dir, methods, points, at, ranks, by_method, tasks, truths):
  """benchmark_summary.png (mean regret with its interval, and mean rank, against n) and
  benchmark_tasks.png (per task, regret against children and child-equivalents, mean over
  seeds, band min-max)."""
  plt = common.plt
  colors = {m: plt.cm.tab20(i % 20) for i, m in enumerate(methods)}
  figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
  for i, m in enumerate(methods):
    bounds = np.array([regret.bootstrap_mean(at[m][:, k]) for k in range(len(points))])
    common.band(left, points, bounds[:, 0], bounds[:, 1], bounds[:, 2], m, colors[m])
    right.plot(points, ranks[i], color=colors[m], label=m, marker='o')
  for axis, label in ((left, 'normalized regret (mean, 95% interval)'),
                      (right, 'average rank (1 best)')):
    axis.set_xscale('log', base=2)
    axis.set_xlabel('children trained')
    axis.set_ylabel(label)
  left.legend(fontsize=7)
  common.save(figure, output_dir, 'benchmark_summary.png')
  columns = 4
  rows = -(-len(tasks) // columns)
  figure, axes = plt.subplots(2 * rows, columns, figsize=(4 * columns, 5 * rows), squeeze=False)
  for index, task in enumerate(tasks):
    by_children = axes[2 * (index // columns), index % columns]
    by_seconds = axes[2 * (index // columns) + 1, index % columns]
    for m in methods:
      curves = np.array([s.regret for s in by_method[m] if s.task == task])
      n = np.arange(1, curves.shape[1] + 1)
      common.band(by_children, n, curves.mean(0), curves.min(0), curves.max(0), m, colors[m])
      by_time = np.array([s.regret_by_seconds for s in by_method[m] if s.task == task])
      common.band(by_seconds, points, by_time.mean(0), by_time.min(0), by_time.max(0), m,
                  colors[m])
    by_children.set_title(f'{task} (floor {truths[task].regret_floor:.2f})', fontsize=9)
    by_children.set_xscale('log', base=2)
    by_seconds.set_xscale('log', base=2)
    by_children.set_xlabel('children', fontsize=8)
    by_seconds.set_xlabel('child-equivalents of seconds', fontsize=8)
  for index in range(len(tasks), rows * columns):
    axes[2 * (index // columns), index % columns].axis('off')
    axes[2 * (index // columns) + 1, index % columns].axis('off')
  axes[0, 0].legend(fontsize=6)
  figure.tight_layout()
  common.save(figure, output_dir, 'benchmark_tasks.png')
