"""Fig. 5: correlations between the learned task embeddings after transfer.

  python -m mnms_tf.experiments.figures.fig5_task_embeddings [--root_dir=runs/reproduction]

Pearson correlation of every pair of the transferred controller's task embeddings (the
pre-training tasks and the new ones), mean over seeds.
"""
import numpy as np

from mnms_tf.experiments import analysis
from mnms_tf.experiments.figures import common

FILENAME = 'fig5_task_embeddings.png'


def correlations(root_dir, experiment='transfer'):
  """(task names, mean over seeds of the task-embedding correlation matrix)."""
  runs = analysis.experiment_runs(root_dir, experiment)
  if not runs:
    raise FileNotFoundError(f'No {experiment} runs in {root_dir}')
  matrices = []
  for run in runs:
    names, embeddings = analysis.task_embeddings(run)
    matrices.append(np.corrcoef(embeddings))
  return names, np.mean(matrices, axis=0)


def make(root_dir, output_dir):
  names, matrix = correlations(root_dir)
  figure, axis = common.plt.subplots(figsize=(5.5, 4.8))
  image = axis.imshow(matrix, cmap='RdBu_r', vmin=-1, vmax=1)
  axis.set_xticks(range(len(names)), names, rotation=35, ha='right')
  axis.set_yticks(range(len(names)), names)
  for i in range(len(names)):
    for j in range(len(names)):
      axis.text(j, i, f'{matrix[i, j]:.2f}', ha='center', va='center', fontsize=9)
  figure.colorbar(image, label='Pearson correlation')
  axis.set_title('Task-embedding correlations after transfer')
  return common.save(figure, output_dir, FILENAME)


if __name__ == '__main__':
  common.run(make)
