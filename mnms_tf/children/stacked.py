"""Children trained together: a group of one task, module, fine-tuning and depth as one
stacked computation.

Member g's weights are slice g of stacked [G, inputs, outputs] variables, zero-padded to
the group's widest layer: a padded unit has zero weights in and out, so its ReLU is 0, its
gradients are 0 and proximal Adagrad leaves it at 0; the member computes what it would
alone. Each member keeps its own seed (initial weights and batch order), learning rate,
l2 and length: members are sorted by length, longest first, and step t trains the prefix
of members whose length exceeds t, so a group costs the sum of its members' steps, not
its size times the longest where it matters (fine-tuned tables). A member whose loss
turns non-finite stops learning and fails alone.

A fine-tuned member trains its own copy of the rows of the task's vocabulary (every split's
ids; one extra row takes padding). A step gathers each member's distinct batch rows,
padded to the most any member has, and updates only those: the single child's update of
its batch rows. Results equal the single-child path up to float summation order
(tests/test_child.py; benchmarks/search_throughput.py measures the gaps).
"""
import numpy as np
import tensorflow as tf

from mnms_tf.children import optimizers


def _any_shape_variable(rank, trainable=True):
  return tf.Variable(tf.zeros([0] * rank), shape=tf.TensorShape([None] * rank),
                     trainable=trainable)


def bag_entries(bags, rows):
  """(positions, weights, text in the batch) of the bag entries of `rows`' texts, for
  `bags` (positions, weights, row splits) as trainer._TaskModuleCache holds them."""
  positions, weights, row_splits = bags
  # Bags are built valid: unvalidated ragged tensors halve a fine-tuned child's tracing.
  picked = tf.gather(tf.RaggedTensor.from_row_splits(positions, row_splits, validate=False),
                     rows)
  picked_weights = tf.gather(
      tf.RaggedTensor.from_row_splits(weights, row_splits, validate=False), rows)
  return picked.flat_values, picked_weights.flat_values, tf.cast(picked.value_rowids(), tf.int32)


class StackedArchitecture:
  """A reusable group of one depth: stacked weights, optimizer slots and traced loops."""

  def __init__(self, nlayers, fine_tuned):
    self.kernels = [_any_shape_variable(3) for _ in range(nlayers + 1)]
    self.biases = [_any_shape_variable(2) for _ in range(nlayers + 1)]
    self.variables = [v for pair in zip(self.kernels, self.biases) for v in pair]
    self.accumulators = [_any_shape_variable(v.shape.rank, False) for v in self.variables]
    self.fine_tuned = fine_tuned
    self.table = _any_shape_variable(3)  # [G, task vocabulary + 1, dim] when fine-tuned
    self.table_accumulator = _any_shape_variable(3, False)
    data = ((tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.float32),
             tf.TensorSpec([None], tf.int64)) if fine_tuned else
            (tf.TensorSpec([None, None], tf.float32),))
    self.train_loop = tf.function(self._train_loop, autograph=False)
    self.train_loop.get_concrete_function(
        tf.TensorSpec([None, None, None], tf.int32), data, tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32),
        tf.TensorSpec([None], tf.float32))
    self.logits = tf.function(self._logits, autograph=False)
    self.logits.get_concrete_function(data, tf.TensorSpec([None], tf.int32),
                                      tf.TensorSpec([], tf.int32))

  def reset(self, seeds, layer_sizes, initial_accumulator_value, initializer, table=None):
    """Fresh weights for each member: `layer_sizes[g]` (input, hidden..., classes),
    `initializer(seed, layer)` as a single child's; `table` [V + 1, dim], every member's
    starting rows when fine-tuned."""
    widest = np.max(np.array(layer_sizes), axis=0)
    for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
      stacked = np.zeros([len(seeds), widest[i], widest[i + 1]], np.float32)
      for g, (seed, sizes) in enumerate(zip(seeds, layer_sizes)):
        stacked[g, :sizes[i], :sizes[i + 1]] = initializer(seed, i)((sizes[i], sizes[i + 1]))
      kernel.assign(stacked)
      bias.assign(tf.zeros([len(seeds), widest[i + 1]]))
    for variable, accumulator in zip(self.variables, self.accumulators):
      accumulator.assign(tf.fill(tf.shape(variable), initial_accumulator_value))
    if table is not None:
      self.table.assign(tf.tile(table[None], [len(seeds), 1, 1]))
      self.table_accumulator.assign(tf.fill(tf.shape(self.table), initial_accumulator_value))

  def weights(self, member, layer_sizes):
    """Member's [kernel, bias] of each Dense layer at its own sizes."""
    return [[self.kernels[i][member, :layer_sizes[i], :layer_sizes[i + 1]].numpy(),
             self.biases[i][member, :layer_sizes[i + 1]].numpy()]
            for i in range(len(self.kernels))]

  def _forward(self, inputs, weights):
    x = inputs
    for i in range(0, len(weights), 2):
      x = tf.matmul(x, weights[i]) + weights[i + 1][:, None, :]
      if i + 2 < len(weights):
        x = tf.nn.relu(x)
    return x

  def _train_loop(self, batches, data, labels, iterations, learning_rates, l2s):
    """Trains every member (sorted longest first) for its `iterations`; returns each
    member's step + 1 at its first non-finite loss, or 0.

    The MLP's weights and slots are loop variables, updated for every member with the
    finished ones masked (their steps are cheap); a fine-tuned step gathers and updates
    table rows of the members still training only."""
    def not_done(step, *unused):
      return step < iterations[0]

    def one_step(step, failed_at, weights, accumulators):
      failed_at, weights, accumulators = self._step(
          step, failed_at, weights, accumulators, batches, data, labels, iterations,
          learning_rates, l2s)
      return step + 1, failed_at, weights, accumulators

    _, failed_at, weights, accumulators = tf.while_loop(
        not_done, one_step, [tf.constant(0), tf.zeros_like(iterations),
                             [tf.convert_to_tensor(v) for v in self.variables],
                             [tf.convert_to_tensor(a) for a in self.accumulators]])
    assigned = [v.assign(w) for v, w in zip(self.variables + self.accumulators,
                                            weights + accumulators)]
    with tf.control_dependencies(assigned):
      return tf.identity(failed_at)

  def _step(self, step, failed_at, weights, accumulators, batches, data, labels, iterations,
            learning_rates, l2s):
    """One proximal Adagrad step of the members still training."""
    training = tf.logical_and(iterations > step, tf.equal(failed_at, 0))
    rows = batches[:, step]  # [members, batch]
    watched = list(weights)
    if self.fine_tuned:
      active = tf.reduce_sum(tf.cast(iterations > step, tf.int32))  # a prefix: sorted
      gather_at, valid, combiner = self._batch_rows(rows[:active], data)
      table_rows = tf.gather_nd(self.table, gather_at)  # [active, most rows, dim]
      watched.append(table_rows)
    with tf.GradientTape() as tape:
      tape.watch(watched)
      if self.fine_tuned:
        inputs = tf.matmul(combiner, table_rows)
        inputs = tf.pad(inputs, [[0, tf.shape(rows)[0] - active], [0, 0], [0, 0]])
      else:
        inputs = tf.gather(data[0], rows)
      losses = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          tf.gather(labels, rows), self._forward(inputs, weights)), axis=1)
      loss = tf.reduce_sum(tf.where(training, losses, 0.0))
    gradients = tape.gradient(loss, watched)
    new_weights, new_accumulators = [], []
    for value, accum, gradient in zip(weights, accumulators, gradients):
      shape = [-1] + [1] * (value.shape.rank - 1)
      new_value, new_accum = optimizers.proximal_step(
          value, accum, gradient, tf.reshape(learning_rates, shape), 0.0,
          tf.reshape(l2s, shape))
      keep = tf.reshape(training, shape)
      new_weights.append(tf.where(keep, new_value, value))
      new_accumulators.append(tf.where(keep, new_accum, accum))
    updates = []
    if self.fine_tuned:
      keep = tf.logical_and(valid, training[:active, None])[..., None]
      accumulator_rows = tf.gather_nd(self.table_accumulator, gather_at)
      value, accum = optimizers.proximal_step(
          table_rows, accumulator_rows, gradients[-1], learning_rates[:active, None, None],
          0.0, l2s[:active, None, None])
      updates.append(self.table.scatter_nd_update(gather_at, tf.where(keep, value, table_rows)))
      updates.append(self.table_accumulator.scatter_nd_update(
          gather_at, tf.where(keep, accum, accumulator_rows)))
    newly_failed = tf.logical_and(training, tf.logical_not(tf.math.is_finite(losses)))
    with tf.control_dependencies(updates):
      return (tf.where(newly_failed, step + 1, failed_at), new_weights, new_accumulators)

  def _batch_rows(self, rows, data):
    """Where each member's distinct batch rows are in the table ([active, most, 2]: member,
    row; padding points at the extra row), which are real, and the members' sqrt-n
    combiners [active, batch, most] over them."""
    active, batch_size = tf.shape(rows)[0], tf.shape(rows)[1]
    positions, weights, entry_texts = bag_entries(data, tf.reshape(rows, [-1]))
    padding_row = tf.cast(tf.shape(self.table)[1] - 1, tf.int64)
    members = entry_texts // batch_size
    keys = tf.cast(members, tf.int64) * (padding_row + 1) + positions
    # In order of first occurrence: by member (entries are), then as a single child orders
    # its rows, so that a member sums its rows in the single child's order.
    distinct, entry_index = tf.unique(keys, out_idx=tf.int32)
    distinct_members = tf.cast(distinct // (padding_row + 1), tf.int32)
    starts = tf.searchsorted(distinct_members, tf.range(active + 1), out_type=tf.int32)
    counts = starts[1:] - starts[:-1]
    most = tf.reduce_max(counts)
    ranks = tf.range(tf.size(distinct)) - tf.gather(starts, distinct_members)
    slots = tf.stack([distinct_members, ranks], axis=1)
    table_rows = tf.tensor_scatter_nd_update(tf.fill([active, most], padding_row), slots,
                                             distinct % (padding_row + 1))
    gather_at = tf.stack([tf.broadcast_to(tf.range(active, dtype=tf.int64)[:, None],
                                          [active, most]), table_rows], axis=-1)
    valid = tf.range(most)[None, :] < counts[:, None]
    entry_ranks = entry_index - tf.gather(starts, members)
    cells = tf.math.unsorted_segment_sum(weights, entry_texts * most + entry_ranks,
                                         active * batch_size * most)
    return gather_at, valid, tf.reshape(cells, [active, batch_size, most])

  def _logits(self, data, rows, member):
    weights = [v[member][None] for v in self.variables]
    if self.fine_tuned:
      positions, entry_weights, entry_texts = bag_entries(data, rows)
      inputs = tf.math.unsorted_segment_sum(
          tf.gather(self.table[member], positions) * entry_weights[:, None], entry_texts,
          tf.size(rows))
    else:
      inputs = tf.gather(data[0], rows)
    return self._forward(inputs[None], weights)[0]
