"""Children trained together: a group of one task, module, fine-tuning and depth as one
stacked computation.

Member g's weights are slice g of stacked [G, inputs, outputs] variables, zero-padded to
the group's widest layer: a padded unit has zero weights in and out, so its ReLU is 0, its
gradients are 0 and proximal Adagrad leaves it at 0; the member computes what it would
alone. Each member keeps its own seed (initial weights and batch order), learning rate,
l2 and length: members are sorted by length, longest first, and the group trains in
segments, one per distinct length, each of the prefix of members still training, so a
group costs the sum of its members' steps (of the widest member's width), not its size
times the longest. Members share no arithmetic (every op is per member), so one whose
loss turns non-finite spoils only its own weights: it fails alone, and is not masked.

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
    # Fine-tuned: the members' tables end to end, [G * (task vocabulary + 1), dim] (flat:
    # a row scatter is 4x faster than a scatter_nd into [G, rows, dim]), and the rows of
    # one member's table; kept apart because tf.shape(self.table) in a step would copy
    # the whole table (a read before the step's scatter), 7 ms a step for 8 members.
    self.table = _any_shape_variable(2)
    self.table_accumulator = _any_shape_variable(2, False)
    self.member_rows = tf.Variable(0, dtype=tf.int64, trainable=False)
    data = ((tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.float32),
             tf.TensorSpec([None], tf.int64)) if fine_tuned else
            (tf.TensorSpec([None, None], tf.float32),))
    self.train_loop = tf.function(self._train_loop, autograph=False)
    self.train_loop.get_concrete_function(
        tf.TensorSpec([None, None, None], tf.int32), data, tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([], tf.int32), tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.float32))
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
      self.table.assign(tf.tile(table, [len(seeds), 1]))
      self.member_rows.assign(table.shape[0])
      self.table_accumulator.assign(tf.fill(tf.shape(self.table), initial_accumulator_value))

  def weights(self, member, layer_sizes):
    """Member's [kernel, bias] of each Dense layer at its own sizes."""
    return [[self.kernels[i][member, :layer_sizes[i], :layer_sizes[i + 1]].numpy(),
             self.biases[i][member, :layer_sizes[i + 1]].numpy()]
            for i in range(len(self.kernels))]

  def member_table(self, member):
    """Member's fine-tuned rows of the task vocabulary, then its padding row."""
    rows = int(self.member_rows.numpy())
    return self.table[member * rows:(member + 1) * rows]

  def _forward(self, inputs, weights):
    x = inputs
    for i in range(0, len(weights), 2):
      x = tf.matmul(x, weights[i]) + weights[i + 1][:, None, :]
      if i + 2 < len(weights):
        x = tf.nn.relu(x)
    return x

  def train(self, batches, data, labels, iterations, learning_rates, l2s):
    """Trains every member (sorted longest first: `batches` [members, longest, batch]) for
    its `iterations`; returns each member's step + 1 at its first non-finite loss, or 0."""
    failed_at = np.zeros(len(iterations), np.int32)
    start = 0
    for stop in sorted(set(iterations)):
      active = sum(i >= stop for i in iterations)
      failed_at[:active] = self.train_loop(
          tf.constant(batches[:active, start:stop]), data, labels, tf.constant(start),
          tf.constant(failed_at[:active]), tf.constant(learning_rates[:active], tf.float32),
          tf.constant(l2s[:active], tf.float32)).numpy()
      start = stop
    return failed_at

  def _train_loop(self, batches, data, labels, start, failed_at, learning_rates, l2s):
    """Steps `start`.. of the members in `batches` (a prefix of the group), all training.

    The MLP's weights and slots of those members are loop variables, written back at the
    end; a fine-tuned step gathers and updates their table rows."""
    active = tf.shape(batches)[0]

    def not_done(step, *unused):
      return step < tf.shape(batches)[1]

    def one_step(step, failed_at, weights, accumulators):
      failed_at, weights, accumulators = self._step(
          step, start, failed_at, weights, accumulators, batches, data, labels,
          learning_rates, l2s)
      return step + 1, failed_at, weights, accumulators

    _, failed_at, weights, accumulators = tf.while_loop(
        not_done, one_step, [tf.constant(0), failed_at,
                             [v[:active] for v in self.variables],
                             [a[:active] for a in self.accumulators]])
    assigned = [v[:active].assign(w) for v, w in zip(self.variables + self.accumulators,
                                                     weights + accumulators)]
    with tf.control_dependencies(assigned):
      return tf.identity(failed_at)

  def _step(self, step, start, failed_at, weights, accumulators, batches, data, labels,
            learning_rates, l2s):
    """One proximal Adagrad step of the members in `batches`."""
    rows = batches[:, step]  # [members, batch]
    watched = list(weights)
    if self.fine_tuned:
      gather_at, valid, combiner = self._batch_rows(rows, data)
      table_rows = tf.gather(self.table, gather_at)  # [members, most rows, dim]
      watched.append(table_rows)
    with tf.GradientTape() as tape:
      tape.watch(watched)
      if self.fine_tuned:
        inputs = tf.matmul(combiner, table_rows)
      else:
        inputs = tf.gather(data[0], rows)
      losses = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          tf.gather(labels, rows), self._forward(inputs, weights)), axis=1)
      loss = tf.reduce_sum(losses)
    gradients = tape.gradient(loss, watched)
    new_weights, new_accumulators = [], []
    for value, accum, gradient in zip(weights, accumulators, gradients):
      shape = [-1] + [1] * (value.shape.rank - 1)
      new_value, new_accum = optimizers.proximal_step(
          value, accum, gradient, tf.reshape(learning_rates, shape), 0.0,
          tf.reshape(l2s, shape))
      new_weights.append(new_value)
      new_accumulators.append(new_accum)
    updates = []
    if self.fine_tuned:
      keep = valid[..., None]
      accumulator_rows = tf.gather(self.table_accumulator, gather_at)
      value, accum = optimizers.proximal_step(
          table_rows, accumulator_rows, gradients[-1], learning_rates[:, None, None], 0.0,
          l2s[:, None, None])
      flat_at, dim = tf.reshape(gather_at, [-1]), tf.shape(value)[-1]
      # Padding slots write back the padding row's own value: duplicates agree.
      updates.append(self.table.scatter_update(tf.IndexedSlices(
          tf.reshape(tf.where(keep, value, table_rows), [-1, dim]), flat_at)))
      updates.append(self.table_accumulator.scatter_update(tf.IndexedSlices(
          tf.reshape(tf.where(keep, accum, accumulator_rows), [-1, dim]), flat_at)))
    newly_failed = tf.logical_and(tf.equal(failed_at, 0),
                                  tf.logical_not(tf.math.is_finite(losses)))
    with tf.control_dependencies(updates):
      return (tf.where(newly_failed, start + step + 1, failed_at), new_weights,
              new_accumulators)

  def _batch_rows(self, rows, data):
    """Where each member's distinct batch rows are in the flat table ([members, most];
    padding points at the member's extra row), which are real, and the members' sqrt-n
    combiners [members, batch, most] over them."""
    active, batch_size = tf.shape(rows)[0], tf.shape(rows)[1]
    positions, weights, entry_texts = bag_entries(data, tf.reshape(rows, [-1]))
    member_rows = tf.convert_to_tensor(self.member_rows)
    members = entry_texts // batch_size
    keys = tf.cast(members, tf.int64) * member_rows + positions  # rows of the flat table
    # In order of first occurrence: by member (entries are), then as a single child orders
    # its rows, so that a member sums its rows in the single child's order.
    distinct, entry_index = tf.unique(keys, out_idx=tf.int32)
    distinct_members = tf.cast(distinct // member_rows, tf.int32)
    starts = tf.searchsorted(distinct_members, tf.range(active + 1), out_type=tf.int32)
    counts = starts[1:] - starts[:-1]
    most = tf.reduce_max(counts)
    ranks = tf.range(tf.size(distinct)) - tf.gather(starts, distinct_members)
    padding = (tf.range(1, active + 1, dtype=tf.int64) * member_rows - 1)[:, None]
    gather_at = tf.tensor_scatter_nd_update(tf.broadcast_to(padding, [active, most]),
                                            tf.stack([distinct_members, ranks], axis=1),
                                            distinct)
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
          tf.gather(self.table, tf.cast(member, tf.int64) * self.member_rows + positions)
          * entry_weights[:, None], entry_texts,
          tf.size(rows))
    else:
      inputs = tf.gather(data[0], rows)
    return self._forward(inputs[None], weights)[0]
