"""Fig. 3: the controller's learned distribution of every parameter, per task.

  python -m mnms_tf.experiments.figures.fig3_parameter_distributions [--root_dir=runs/reproduction]

Marginal frequency of each choice in 4,000 samples of the final multitask controller,
mean over seeds (error bars: min-max over seeds).
"""
import numpy as np

from mnms_tf.experiments import analysis
from mnms_tf.experiments.figures import common

FILENAME = 'fig3_parameter_distributions.png'


def distributions(root_dir, experiment='multitask'):
  """(choices, task -> [seeds, ...] per parameter) of an experiment's final controllers."""
  runs = analysis.experiment_runs(root_dir, experiment)
  if not runs:
    raise FileNotFoundError(f'No {experiment} runs in {root_dir}')
  per_task = {}
  for run in runs:
    choices, tables = analysis.probability_tables(run)
    for task, table in tables.items():
      per_task.setdefault(task, []).append(table)
  return choices, {task: [np.stack([seed[k] for seed in seeds]) for k in range(len(choices))]
                   for task, seeds in per_task.items()}


def make(root_dir, output_dir, experiment='multitask'):
  choices, per_task = distributions(root_dir, experiment)
  columns = (len(choices) + 1) // 2
  figure, axes = common.plt.subplots(2, columns, figsize=(3.2 * columns, 7))
  axes = axes.ravel()
  for unused in axes[len(choices):]:
    unused.axis('off')
  width = 0.8 / len(per_task)
  for k, (axis, (name, values)) in enumerate(zip(axes, choices.items())):
    for t, (task, tables) in enumerate(per_task.items()):
      x = np.arange(len(values)) + (t - (len(per_task) - 1) / 2) * width
      mean = tables[k].mean(axis=0)
      error = [mean - tables[k].min(axis=0), tables[k].max(axis=0) - mean]
      axis.bar(x, mean, width, yerr=error, capsize=2, label=task)
    axis.set_xticks(np.arange(len(values)), [str(v) for v in values], rotation=45, fontsize=8)
    axis.set(title=name, ylim=(0, 1))
    if k % columns == 0:
      axis.set_ylabel('probability')
  axes[0].legend(fontsize=8)
  figure.suptitle(f'Learned per-task parameter distributions ({experiment} controller; mean '
                  f'over {len(next(iter(per_task.values()))[0])} seeds, bars = min-max)')
  figure.tight_layout()
  return common.save(figure, output_dir, FILENAME)


if __name__ == '__main__':
  common.run(make)
