"""The replay bank of off-policy MNMS: every sampled model and its reward, per task.

Held in tf.Variables so that a tf.train.Checkpoint saves and restores it with the
controller. Each task keeps its newest `capacity` entries (a ring). Sampling picks a task
uniformly among those with entries, then an entry of that task uniformly, so that a task
with cheap children does not crowd out the others.
"""
import numpy as np
import tensorflow as tf


class ReplayBank(tf.Module):
  """(task, actions, reward, behaviour log-probability, iteration) entries, per task."""

  def __init__(self, num_tasks, num_actions, capacity=2000, seed=0):
    super().__init__(name='replay_bank')
    self.num_tasks, self.capacity = int(num_tasks), int(capacity)
    self.actions = tf.Variable(tf.zeros([num_tasks, capacity, num_actions], tf.int32))
    self.rewards = tf.Variable(tf.zeros([num_tasks, capacity]))
    self.log_probabilities = tf.Variable(tf.zeros([num_tasks, capacity]))
    self.iterations = tf.Variable(tf.zeros([num_tasks, capacity], tf.int64))
    self.counts = tf.Variable(tf.zeros([num_tasks], tf.int64))  # entries ever added
    self.generator = tf.random.Generator.from_seed(seed)

  def sizes(self):
    return np.minimum(self.counts.numpy(), self.capacity)

  def add(self, tasks, actions, rewards, log_probabilities, iteration):
    """Appends a batch (numpy or tensors); the oldest entries of a full task are replaced."""
    counts = self.counts.numpy()
    slots = []
    for task in np.asarray(tasks):
      slots.append([task, counts[task] % self.capacity])
      counts[task] += 1
    slots = tf.constant(slots, tf.int64)
    self.actions.scatter_nd_update(slots, tf.cast(actions, tf.int32))
    self.rewards.scatter_nd_update(slots, tf.cast(rewards, tf.float32))
    self.log_probabilities.scatter_nd_update(slots, tf.cast(log_probabilities, tf.float32))
    self.iterations.scatter_nd_update(slots, tf.fill([len(slots)], tf.cast(iteration, tf.int64)))
    self.counts.assign(counts)

  def sample(self, batch_size):
    """A batch (tasks, actions, rewards, log_probabilities) drawn across tasks; TF ops only,
    so that the learner's tf.function samples its own batches."""
    sizes = tf.minimum(self.counts, self.capacity)
    filled = tf.where(sizes > 0)[:, 0]
    tf.debugging.assert_positive(tf.size(filled), message='The replay bank is empty')
    pick = self.generator.uniform([batch_size], 0, tf.size(filled, tf.int64), tf.int64)
    tasks = tf.gather(filled, pick)
    entries = tf.cast(tf.floor(self.generator.uniform([batch_size], dtype=tf.float64) *
                               tf.cast(tf.gather(sizes, tasks), tf.float64)), tf.int64)
    index = tf.stack([tasks, entries], axis=1)
    return (tf.cast(tasks, tf.int32), tf.gather_nd(self.actions, index),
            tf.gather_nd(self.rewards, index), tf.gather_nd(self.log_probabilities, index))

  def reset(self):
    self.counts.assign(tf.zeros_like(self.counts))
