"""The MNMS controller networks: LSTMs over the search space, conditioned on a task embedding.

One step per search-space parameter. The input at step k is the embedding of the action
chosen at step k-1 (a learned start vector at step 0) concatenated with the task's
embedding, a row of a learned table: the paper's multitask controller feeds the task
embedding to every step. The actor emits logits over parameter k's choices; the critic,
the same network with a scalar head, the expected reward of the prefix so far.

Sizes are reconstructed (our copy of the paper lost them) and gin-configurable
(`NetworkSettings`): 2 LSTM layers (paper), hidden size 64, action and task embeddings of
32, uniform initialisation in [-0.1, 0.1] (the paper initialises uniformly; the range is
ours).
"""
import dataclasses

import gin
import keras
import tensorflow as tf


@gin.configurable
@dataclasses.dataclass(frozen=True)
class NetworkSettings:
  """The shape of the actor and critic; stored in run.json, so a run restores without gin."""
  hidden_size: int = 64
  num_layers: int = 2
  action_embedding_size: int = 32
  task_embedding_size: int = 32
  init_range: float = 0.1
  use_task_embedding: bool = True  # False only for the ablation in the tests


class ControllerNetwork(keras.Model):
  """Autoregressive LSTM over `sizes` choices; `head` is 'policy' (actor) or 'value' (critic)."""

  def __init__(self, sizes, num_tasks, head='policy', seed=0, settings=None, **kwargs):
    super().__init__(**kwargs)
    settings = settings or NetworkSettings()
    self.sizes = tuple(int(s) for s in sizes)
    self.num_tasks = int(num_tasks)
    self.head = head
    self.use_task_embedding = settings.use_task_embedding
    self.hidden_size = settings.hidden_size
    seeds = iter(range(seed * 10000, seed * 10000 + 10000))

    def uniform():
      return keras.initializers.RandomUniform(-settings.init_range, settings.init_range,
                                              seed=next(seeds))

    self.task_embeddings = self.add_weight(shape=(num_tasks, settings.task_embedding_size),
                                           initializer=uniform(), name='task_embeddings')
    self.start = self.add_weight(shape=(1, settings.action_embedding_size), initializer=uniform(),
                                 name='start')
    # The last action is never fed back, so it needs no embedding.
    self.action_embeddings = [
        self.add_weight(shape=(size, settings.action_embedding_size), initializer=uniform(),
                        name=f'action_embeddings_{k}') for k, size in enumerate(self.sizes[:-1])]
    self.cells = [keras.layers.LSTMCell(settings.hidden_size, kernel_initializer=uniform(),
                                        recurrent_initializer=uniform())
                  for _ in range(settings.num_layers)]
    input_size = settings.action_embedding_size + settings.task_embedding_size
    for cell in self.cells:
      cell.build((None, input_size))
      input_size = settings.hidden_size
    if head == 'policy':
      self.heads = [keras.layers.Dense(size, kernel_initializer=uniform()) for size in self.sizes]
    else:
      self.heads = [keras.layers.Dense(1, kernel_initializer=uniform())]
    for layer in self.heads:
      layer.build((None, settings.hidden_size))

  def _initial_states(self, batch):
    return [[tf.zeros((batch, self.hidden_size)), tf.zeros((batch, self.hidden_size))]
            for _ in self.cells]

  def _step(self, previous_embedding, task_embedding, states):
    if not self.use_task_embedding:
      task_embedding = tf.zeros_like(task_embedding)
    x = tf.concat([previous_embedding, task_embedding], axis=-1)
    new_states = []
    for cell, state in zip(self.cells, states):
      x, state = cell(x, state)
      new_states.append(state)
    return x, new_states

  def _head(self, k, output):
    return self.heads[k if self.head == 'policy' else 0](output)

  def _run(self, tasks, choose):
    """Steps through the parameters; `choose(k, output)` gives the action fed back after step k.

    Returns every step's head output and the chosen actions.
    """
    batch = tf.shape(tasks)[0]
    task_embedding = tf.gather(self.task_embeddings, tasks)
    previous = tf.tile(self.start, [batch, 1])
    states = self._initial_states(batch)
    outputs, actions = [], []
    for k in range(len(self.sizes)):
      output, states = self._step(previous, task_embedding, states)
      outputs.append(self._head(k, output))
      actions.append(choose(k, outputs[-1]))
      if k + 1 < len(self.sizes):
        previous = tf.gather(self.action_embeddings[k], actions[-1])
    return outputs, actions

  def unroll(self, tasks, actions):
    """Outputs of every step with `actions` fed back: K logits [B, size_k], or values [B, K]."""
    outputs, _ = self._run(tasks, lambda k, _: actions[:, k])
    return outputs if self.head == 'policy' else tf.concat(outputs, axis=1)

  def decode(self, tasks, seeds=None):
    """Actions [B, K] and their log-probabilities [B]: sampled with `seeds`, else greedy.

    `seeds` is a [K, 2] int tensor of stateless-sampling seeds, one per step.
    """
    def choose(k, logits):
      if seeds is None:
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
      return tf.cast(tf.random.stateless_categorical(logits, 1, seed=seeds[k])[:, 0], tf.int32)

    logits, actions = self._run(tasks, choose)
    log_probability = tf.zeros([tf.shape(tasks)[0]])
    for step_logits, action in zip(logits, actions):
      log_probability += tf.gather(tf.nn.log_softmax(step_logits), action, batch_dims=1)
    return tf.stack(actions, axis=1), log_probability

  def step_probabilities(self, tasks, actions):
    """Softmax of every step given the `actions` prefix: K tensors [B, size_k]."""
    return [tf.nn.softmax(logits) for logits in self.unroll(tasks, actions)]


def copy_weights(source, target, skip_task_embeddings=False):
  """Assigns `source`'s weights to `target` (same architecture)."""
  for s, t in zip(source.weights, target.weights):
    if skip_task_embeddings and s is source.task_embeddings:
      continue
    t.assign(s)
