"""What a search reports as it goes: TensorBoard scalars, the run's HParams, and the
progress line's parts (best so far per task, time left)."""
import os

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib


class Summaries:
  """TensorBoard scalars, the run's HParams (so that `tensorboard --logdir` over many runs
  compares them in one table: what started each, against its per-task best accuracy) and
  the best trial per task, for the progress line."""

  def __init__(self, root_dir, store, tasks):
    self.writer = tf.summary.create_file_writer(os.path.join(root_dir, run_dir_lib.TENSORBOARD))
    self.best = {t: store.best(t) for t in tasks}

  def hparams(self, info):
    """Once, when the run starts."""
    with self.writer.as_default():
      hp.hparams({'controller': info['controller']['kind'], 'seed': info['seed'],
                  'tasks': ','.join(info['tasks']), 'init_from': info['init_from'] or '',
                  'task_embedding_init': info['task_embedding_init'],
                  'initial_configs': info['initial_configs'] or '',
                  'pipelined': info['pipelined']}, trial_id=info['root_dir'])

  def iteration(self, step, task, results, log_probabilities, controller_scalars):
    ok = [r for r in results if r.status == store_lib.OK]
    for r in ok:
      if self.best[task] is None or r.val_accuracy > self.best[task]['val_accuracy']:
        self.best[task] = {'val_accuracy': r.val_accuracy, 'reward': r.reward}
    with self.writer.as_default(step=step):
      scalars = {
          'reward_mean': np.mean([r.reward for r in results]),
          'val_accuracy_mean': np.mean([r.val_accuracy for r in ok]) if ok else 0.0,
          'failed_children': len(results) - len(ok),
          # -mean log pi of the samples estimates the task's policy entropy.
          'entropy': -float(np.mean(log_probabilities)),
      }
      if self.best[task]:
        scalars['val_accuracy_best'] = self.best[task]['val_accuracy']
        scalars['reward_best'] = self.best[task]['reward']
      for name, value in scalars.items():
        tf.summary.scalar(f'{task}/{name}', value)
      for name, value in controller_scalars.items():
        tf.summary.scalar(f'controller/{name}', value)
    self.writer.flush()

  def progress_line(self, it, children, elapsed, done, budget, width):
    """One line per iteration: its task and children, the run's best per task, the ETA."""
    results = it.results
    failed = sum(r.status != store_lib.OK for r in results)
    return (f'iteration {it.index + 1} {it.task}: val '
            f'{np.mean([r.val_accuracy for r in results]):.3f} mean, '
            f'{max(r.val_accuracy for r in results):.3f} best of {len(results)}'
            f'{f" ({failed} failed)" if failed else ""} | {children} children | best: '
            f'{self.best_line()} | {elapsed / done:.1f}s/iteration, ETA '
            f'{eta(budget, it.index + 1, (it.index + 1) * width, elapsed, done, width)}')

  def best_line(self):
    return ', '.join(f'{t} {b["val_accuracy"]:.3f}' if b else f'{t} -'
                     for t, b in self.best.items())


def eta(budget, iteration, children, elapsed, iterations_done, children_per_iteration):
  if not iterations_done:
    return '?'
  per_iteration = elapsed / iterations_done
  remaining = []
  if budget.iterations is not None:
    remaining.append((budget.iterations - iteration) * per_iteration)
  if budget.children is not None:
    remaining.append(-(-(budget.children - children) // children_per_iteration) * per_iteration)
  if budget.seconds is not None:
    remaining.append(budget.seconds - elapsed)
  if not remaining:
    return 'unbounded'
  seconds = max(0.0, min(remaining))
  return f'{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m{int(seconds % 60):02d}s'
