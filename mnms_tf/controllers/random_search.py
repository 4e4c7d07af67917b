"""Random search: configs drawn uniformly, with the controller's interface.

The baseline every comparison needs; the runner uses it instead of `agent.MNMSAgent`
with the gin binding `ControllerFactory.kind = 'random'`. Its only state is the RNG, which
is checkpointed like the agent's so that a resumed random search samples the same configs.
"""
import numpy as np
import tensorflow as tf

from mnms_tf import errors


class RandomSampler(tf.Module):
  """A `controller.Controller` that learns nothing."""

  def __init__(self, task_names, sizes, seed=0):
    super().__init__(name='random_sampler')
    self.task_names = list(task_names)
    self.sizes = tuple(sizes)
    self.generator = tf.random.Generator.from_seed(seed)

  def task_index(self, name):
    if name not in self.task_names:
      raise errors.ControllerError(f'Task {name!r} is not one of {self.task_names}')
    return self.task_names.index(name)

  def sample(self, tasks):
    """(actions [B, K], log-probabilities [B]) of uniform draws for task indices `tasks`."""
    batch = len(tasks)
    actions = np.stack([self.generator.uniform([batch], 0, size, tf.int32).numpy()
                        for size in self.sizes], axis=1)
    return actions, np.full([batch], -np.log(self.sizes).sum(), np.float32)

  def log_probabilities(self, tasks, actions):
    del actions
    return np.full([len(tasks)], -np.log(self.sizes).sum(), np.float32)

  def observe(self, tasks, actions, rewards, log_probabilities, iteration):
    del tasks, actions, rewards, log_probabilities, iteration  # nothing is learned

  def train(self):
    return {}

  def checkpoint(self):
    return tf.train.Checkpoint(generator=self.generator)

  def training_seconds(self):
    return {}
