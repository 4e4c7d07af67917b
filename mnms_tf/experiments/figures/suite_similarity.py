"""Task similarity beside what the controller learned (the suite experiment).

  python -m mnms_tf.experiments.figures.suite_similarity [--root_dir=runs/suite]

Left: the Task2Vec cosine similarity of every pair of the suite experiment's tasks
(mnms_tf/data/features.py, over the search space's modules; cached in the data directory,
$MNMS_DATA_DIR). Right: the Pearson correlation of the controllers' learned task
embeddings: pre-training pairs from the pre-trained controller; a held-out task against a
pre-training task from its transfer runs with a random initial embedding (mean over seeds),
so that the embedding is learned, not copied; two held-out tasks never share a controller
(blank). Also written: suite_similarity.json with both matrices and their Spearman
agreement over the pairs both define.
"""
import json
import os

import numpy as np

from mnms_tf.experiments import analysis
from mnms_tf.experiments.figures import common
from mnms_tf.experiments import suite as suite_experiment
from mnms_tf import paths

FILENAME, DATA = 'suite_similarity.png', 'suite_similarity.json'
LEARNED_FROM = 'transfer'  # the variant whose held-out embeddings start random


def embedding_correlations(root_dir, protocol):
  """[tasks, tasks] correlations of learned task embeddings (NaN where undefined)."""
  tasks = list(protocol.pretraining_tasks) + list(protocol.held_out_tasks)
  matrix = np.full((len(tasks), len(tasks)), np.nan)
  names, embeddings = analysis.task_embeddings(
      os.path.join(root_dir, suite_experiment.PRETRAIN))
  pretrained = len(protocol.pretraining_tasks)
  order = [names.index(t) for t in protocol.pretraining_tasks]
  matrix[:pretrained, :pretrained] = np.corrcoef(embeddings[order])
  for k, task in enumerate(protocol.held_out_tasks, start=pretrained):
    rows = []
    for run in suite_experiment.finished_runs(root_dir, protocol, task, LEARNED_FROM):
      names, embeddings = analysis.task_embeddings(run)
      correlations = np.corrcoef(embeddings)[names.index(task)]
      rows.append([correlations[names.index(t)] for t in protocol.pretraining_tasks])
    if rows:
      matrix[k, :pretrained] = matrix[:pretrained, k] = np.mean(rows, axis=0)
    matrix[k, k] = 1.0
  return tasks, matrix


def _heatmap(axis, tasks, matrix, title, label, pretrained):
  image = axis.imshow(np.ma.masked_invalid(matrix), cmap='RdBu_r', vmin=-1, vmax=1)
  axis.set_xticks(range(len(tasks)), tasks, rotation=60, ha='right', fontsize=8)
  axis.set_yticks(range(len(tasks)), tasks, fontsize=8)
  for i in range(len(tasks)):
    for j in range(len(tasks)):
      if np.isfinite(matrix[i, j]):
        axis.text(j, i, f'{matrix[i, j]:.1f}', ha='center', va='center', fontsize=6)
  axis.axhline(pretrained - 0.5, color='k', linewidth=1)
  axis.axvline(pretrained - 0.5, color='k', linewidth=1)
  axis.set_title(title, fontsize=10)
  return image, label


def make(root_dir, output_dir, task_features=None):
  """`task_features`: as for suite_transfer.make."""
  protocol = suite_experiment.Protocol.load(root_dir)
  task_features = task_features or suite_experiment.task_features(
      root_dir, paths.default_data_dir())
  similarity = task_features.similarity_matrix(
      list(protocol.pretraining_tasks) + list(protocol.held_out_tasks))
  tasks, correlation = embedding_correlations(root_dir, protocol)
  agreement = suite_experiment.similarity_agreement(similarity, correlation)
  fig, axes = common.plt.subplots(1, 2, figsize=(14, 6.4))
  pretrained = len(protocol.pretraining_tasks)
  for axis, matrix, title, label in (
      (axes[0], similarity, 'Task2Vec similarity (cosine)', 'cosine similarity'),
      (axes[1], correlation, 'Controller task-embedding correlation', 'Pearson correlation')):
    image, label = _heatmap(axis, tasks, matrix, title, label, pretrained)
    fig.colorbar(image, ax=axis, label=label, shrink=0.8)
  fig.suptitle(f'Pre-training tasks above/left of the lines, held-out below/right; '
               f'Spearman agreement over the pairs both define: {agreement:+.2f}')
  fig.tight_layout()
  os.makedirs(output_dir, exist_ok=True)
  with open(os.path.join(output_dir, DATA), 'w') as f:
    json.dump({'tasks': tasks, 'task2vec_similarity': similarity.tolist(),
               'embedding_correlation': [[None if np.isnan(v) else v for v in row]
                                         for row in correlation.tolist()],
               'spearman': agreement}, f, indent=1)
  return common.save(fig, output_dir, FILENAME)


def agreement(output_dir):
  """The Spearman agreement `make` wrote, or None."""
  path = os.path.join(output_dir, DATA)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)['spearman']


if __name__ == '__main__':
  common.run(make, default_root='runs/suite')
