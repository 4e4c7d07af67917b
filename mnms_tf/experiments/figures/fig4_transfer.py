"""Fig. 4: transfer vs a search from scratch on each new task.

  python -m mnms_tf.experiments.figures.fig4_transfer [--root_dir=runs/reproduction]

Savitzky-Golay smoothed validation accuracy of the sampled children against children
trained for the task, mean over seeds with min-max bands: the controller transferred from
the multitask search vs a fresh controller.
"""
import numpy as np

from mnms_tf.experiments import analysis
from mnms_tf.experiments.figures import common

FILENAME = 'fig4_transfer.png'


def make(root_dir, output_dir):
  runs = {e: analysis.experiment_runs(root_dir, e) for e in ('scratch', 'transfer')}
  if not all(runs.values()):
    raise FileNotFoundError(f'Need scratch and transfer runs in {root_dir}')
  tasks = analysis.run_tasks(runs['transfer'][0])
  figure, axes = common.plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.2), squeeze=False)
  for axis, task in zip(axes[0], tasks):
    for experiment, color in (('scratch', 'tab:gray'), ('transfer', 'tab:orange')):
      curves = analysis.task_curves(runs[experiment], task)
      if not curves:
        continue
      mean, low, high = analysis.seed_band(curves)
      common.band(axis, np.arange(1, len(mean) + 1), mean, low, high,
                  f'{experiment} ({len(runs[experiment])} seeds)', color)
    axis.set(title=task, xlabel='children trained for the task', ylabel='validation accuracy')
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc='lower right')
  figure.suptitle('Transfer from the multitask controller vs search from scratch: sampled '
                  'models, smoothed; mean over seeds, band = min-max')
  figure.tight_layout()
  return common.save(figure, output_dir, FILENAME)


if __name__ == '__main__':
  common.run(make)
