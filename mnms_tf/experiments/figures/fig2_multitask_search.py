"""Fig. 2: sampled-model accuracy during the multitask search, per task, with the best.

  python -m mnms_tf.experiments.figures.fig2_multitask_search [--root_dir=runs/reproduction]

Savitzky-Golay smoothed validation accuracy of the children sampled for each task, mean
over seeds with the min-max band, and a dashed line at the best validation accuracy found
for the task (mean over seeds).
"""
import numpy as np

from mnms_tf.experiments import analysis
from mnms_tf.experiments.figures import common

FILENAME = 'fig2_multitask_search.png'


def make(root_dir, output_dir, experiment='multitask'):
  runs = analysis.experiment_runs(root_dir, experiment)
  if not runs:
    raise FileNotFoundError(f'No {experiment} runs in {root_dir}')
  tasks = analysis.run_tasks(runs[0])
  figure, axis = common.plt.subplots(figsize=(7, 4.5))
  for task, color in zip(tasks, ('tab:red', 'tab:blue', 'tab:green', 'tab:purple')):
    curves = analysis.task_curves(runs, task)
    if not curves:
      continue
    mean, low, high = analysis.seed_band(curves)
    children = np.arange(1, len(mean) + 1)
    common.band(axis, children, mean, low, high, f'{task} (sampled, smoothed)', color)
    best = np.mean([b['val_accuracy'] for b in (analysis.best_trial(r, task) for r in runs) if b])
    axis.axhline(best, color=color, linestyle='--', label=f'{task} best: {best:.3f}')
  axis.set(title=f'Multitask search: sampled-model accuracy, smoothed\n(mean over {len(runs)} '
                 f'seeds, band = min-max)',
           xlabel='children trained for the task', ylabel='validation accuracy')
  axis.legend(fontsize=8, loc='lower right')
  axis.grid(alpha=0.3)
  return common.save(figure, output_dir, FILENAME)


if __name__ == '__main__':
  common.run(make)
