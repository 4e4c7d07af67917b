"""Differentiable architecture search (DARTS), warm-started as in arXiv 2205.06355, as a
controller (`ControllerFactory.kind = 'darts'`).

At a task's first proposal the controller trains the task's supernet (children/supernet.py)
here, in the search's process, and from then on proposes the supernet's derived configs, most
probable first: the first child is the DARTS child (every softmax's argmax), the next ones
the runner-up architectures, all with the given learning rate, length and l2, which do not
relax. The runner trains them as it trains any child, so the derived child is a trial like
every other, measured, deployed and exported the same way. The controller learns nothing
from the children's rewards: the search is the supernet's.

A warm start (`init_architecture`, a directory `supernet.save_architecture` wrote; per task,
the runner's `architecture_sources`: the most similar earlier task's or the meta-architecture,
transfer/warm_start.py) starts the architecture weights from those found there, and with
`init_weights` the supernet's hidden layers too (its classifiers are new); with fewer steps
(`steps_share`), that is the seed's claim of the same quality at less search cost. The
supernet's seconds go to the trial store (`training_seconds`), so that a benchmark counts its
cost beside the children's.
"""
import dataclasses
import os

from absl import logging
import gin
import numpy as np
import tensorflow as tf

from mnms_tf.children import supernet as supernet_lib
from mnms_tf import errors


@gin.configurable('differentiable_search')
def settings(supernet=None, hyperparameters=None, init_architecture=None, init_weights=False,
             steps_share=1.0):
  """The controller's settings as plain data (run.json). `hyperparameters`: the values of the
  parameters that do not relax; None: learning rate 0.1, 2,000 steps, l2 0.001, the commonest
  among the suite tasks' best configs (knowledge/suite/best_configs.json). `steps_share`: of
  `supernet.steps`, what each supernet trains (a warm start may need fewer)."""
  supernet = supernet or supernet_lib.SupernetSettings()
  if init_architecture and not os.path.exists(
      os.path.join(init_architecture, supernet_lib.ARCHITECTURE_FILE)):
    raise supernet_lib.SupernetError(
        f'differentiable_search.init_architecture: no {supernet_lib.ARCHITECTURE_FILE} in '
        f'{init_architecture}; give a directory that supernet.save_architecture wrote')
  return {'supernet': dataclasses.asdict(supernet),
          'hyperparameters': dict(hyperparameters or {
              'learning_rate': 0.1, 'iterations': 2000, 'regularization': 0.001}),
          'init_architecture': os.path.abspath(init_architecture) if init_architecture else None,
          'init_weights': bool(init_weights), 'steps_share': float(steps_share)}


class DifferentiableSearch(tf.Module):
  """A `controllers.factory.Controller` proposing each task's derived configs in order."""

  def __init__(self, task_names, space, seed, search_settings, trainer, sources=None):
    """`sources`: task -> {'init', 'hyperparameters'} (warm_start.architecture_sources), which
    override the settings' for that task."""
    super().__init__(name='differentiable_search')
    if trainer is None:
      raise errors.ControllerError("The differentiable search trains supernets on the tasks' "
                                   'data: it needs real children (evaluators.Children)')
    self.task_names = list(task_names)
    self.space = space
    self.seed = seed
    self.settings = search_settings
    self._trainer = trainer
    self._sources = {task: (sources or {}).get(task) or {} for task in self.task_names}
    unrelaxed = sorted(k for k in space.keys if k not in supernet_lib.ARCHITECTURE_KEYS)
    for task in self.task_names:
      if sorted(self._hyperparameters(task)) != unrelaxed:
        raise errors.ControllerError(
            f'differentiable_search.hyperparameters must give exactly {unrelaxed}, got '
            f'{sorted(self._hyperparameters(task))}')
    self._sizes = {k: len(v) for k, v in supernet_lib.initial_alphas(space).items()}
    num_tasks, width = len(self.task_names), sum(self._sizes.values())
    self.alphas = tf.Variable(tf.zeros([num_tasks, width]))
    self.searched = tf.Variable(tf.zeros([num_tasks], tf.bool))
    self.proposed = tf.Variable(tf.zeros([num_tasks], tf.int64))
    self.supernet_seconds = tf.Variable(tf.zeros([num_tasks], tf.float64))
    self._derived = {}

  def _hyperparameters(self, task):
    return self._sources[task].get('hyperparameters') or self.settings['hyperparameters']

  def _init(self, task):
    return self._sources[task].get('init') or self.settings['init_architecture']

  def task_index(self, name):
    if name not in self.task_names:
      raise errors.ControllerError(f'Task {name!r} is not one of {self.task_names}')
    return self.task_names.index(name)

  def _alphas_of(self, task):
    values, out, start = self.alphas.numpy()[task], {}, 0
    for key, size in self._sizes.items():
      out[key] = values[start:start + size].tolist()
      start += size
    return out

  def _search(self, task):
    name = self.task_names[task]
    source = self._init(name)
    alphas, restore_weights = None, None
    if source:
      alphas = supernet_lib.load_architecture(source, self.space)['alphas']
      if self.settings['init_weights']:
        restore_weights = supernet_lib.weights_prefix(source)
    supernet_settings = supernet_lib.SupernetSettings(**self.settings['supernet'])
    supernet_settings = dataclasses.replace(supernet_settings, steps=round(
        supernet_settings.steps * self.settings['steps_share']))
    found = supernet_lib.search_architecture(
        self._trainer, self.space, [name], self._hyperparameters(name), supernet_settings,
        self.seed, alphas=alphas, restore_weights=restore_weights)
    logging.info('supernet of %s (%s): %d steps in %.1f s, its validation accuracy %.3f; %s',
                 name, f'from {source}' if source else 'cold', found.steps, found.seconds,
                 found.validation_accuracy[0], supernet_lib.format_probabilities(
                     found.probabilities, self.space))
    flat = np.concatenate([found.alphas[k] for k in self._sizes])
    self.alphas.scatter_nd_update([[task]], [flat.astype(np.float32)])
    self.supernet_seconds.scatter_nd_update([[task]], [found.seconds])
    self.searched.scatter_nd_update([[task]], [True])

  def derived(self, task):
    """The task's derived configs, most probable first."""
    if task not in self._derived:
      self._derived[task] = supernet_lib.derived_configs(
          self.space, self._alphas_of(task), self._hyperparameters(self.task_names[task]))
    return self._derived[task]

  def sample(self, tasks):
    """Past the last derived config, the order starts again (new child seeds)."""
    tasks = np.asarray(tasks, np.int64)
    actions = np.zeros([len(tasks), len(self.space.sizes)], np.int64)
    for slot, task in enumerate(tasks):
      if not self.searched.numpy()[task]:
        self._search(task)
      configs = self.derived(task)
      position = int(self.proposed.numpy()[task])
      actions[slot] = self.space.to_actions(configs[position % len(configs)])
      self.proposed.scatter_nd_update([[task]], [position + 1])
    return actions, np.zeros([len(tasks)], np.float32)

  def log_probabilities(self, tasks, actions):
    del actions
    return np.zeros([len(tasks)], np.float32)

  def observe(self, tasks, actions, rewards, log_probabilities, iteration):
    del tasks, actions, rewards, log_probabilities, iteration  # the supernet decided

  def train(self):
    return {'supernet_seconds': float(np.sum(self.supernet_seconds.numpy()))}

  def training_seconds(self):
    return {name: float(s) for name, s, searched in zip(
        self.task_names, self.supernet_seconds.numpy(), self.searched.numpy()) if searched}

  def checkpoint(self):
    return tf.train.Checkpoint(alphas=self.alphas, searched=self.searched,
                               proposed=self.proposed, supernet_seconds=self.supernet_seconds)
