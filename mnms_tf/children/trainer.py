"""Children: build, train and evaluate one feed-forward text classifier from a config.

A child is: embedding module (frozen or fine-tuned) -> `nlayers` Dense(`nnodes`, ReLU) ->
Dense(num_classes) softmax, trained with proximal Adagrad (learning_rate, l2 =
regularization) for `iterations` steps of `batch_size` examples drawn from the shuffled,
repeated training split. Reward = validation accuracy cubed, as in the paper (gin:
`ChildTrainer.reward_exponent`).

Two trainers give the same kind of result:
- `train_keras`: the plain way, a Keras model on raw strings and `model.fit`. Reference
  for the benchmark; also serves modules that cannot tokenise separately (TF-Hub NNLM)
  when fine-tuned.
- `ChildTrainer`: the fast path used by the search. Text becomes token ids once per
  (task, module); frozen children share sentence vectors computed once per (task, module);
  the whole training loop is one tf.function. Weights, optimizer slots and traced functions
  are kept per depth and re-initialised for each child, so memory stays flat over
  thousands of children.

Training never raises: an exception or a non-finite loss gives a `failed` result with
reward 0 and the message.
"""
import time

import gin
import keras
import numpy as np
from scipy import special
import tensorflow as tf

from mnms_tf.children import optimizers
from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.children import stacked
from mnms_tf.data.embeddings import layer as layer_lib
from mnms_tf.data.embeddings import registry as module_registry
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import paths

def _new_result(task_name, config, seed, space):
  space = space or search_space.SearchSpace()
  config = space.validate(config)
  return result_lib.ChildResult(task=task_name, config=config,
                                config_hash=space.config_hash(config), seed=int(seed))


def _finish(result, val_accuracy, test_accuracy, train_seconds, batch_size, reward_exponent,
            started):
  result.val_accuracy, result.test_accuracy = float(val_accuracy), float(test_accuracy)
  result.reward = float(val_accuracy) ** reward_exponent
  result.train_seconds = train_seconds
  result.examples_per_second = result.config['iterations'] * batch_size / max(train_seconds, 1e-9)
  result.total_seconds = time.time() - started
  return result


def kernel_initializer(seed, layer_index):
  """Kernel initializer of a child's Dense layer, the same in both trainers."""
  return keras.initializers.GlorotUniform(seed * 1000 + layer_index)


def build_keras_child(config, num_classes, data_dir=None, seed=0):
  """The child as one Keras model on raw strings (what export and the plain path use)."""
  inputs = keras.Input((), dtype='string', name='text')
  x = layer_lib.HubTextEmbedding(config['embedding'], trainable=config['trainable'],
                                 data_dir=data_dir)(inputs)
  for i in range(config['nlayers']):
    x = keras.layers.Dense(config['nnodes'], activation='relu',
                           kernel_initializer=kernel_initializer(seed, i))(x)
  outputs = keras.layers.Dense(num_classes, activation='softmax',
                               kernel_initializer=kernel_initializer(seed, config['nlayers']))(x)
  return keras.Model(inputs, outputs)


@gin.configurable(denylist=['task_name', 'config', 'seed'])
def train_keras(task_name, config, seed=0, data_dir=None, batch_size=100,
                initial_accumulator_value=0.1, reward_exponent=3.0, space=None):
  """Trains one child the plain way: Keras `fit` on raw strings. Returns a ChildResult."""
  return fit_keras_child(task_name, config, seed, data_dir, batch_size,
                         initial_accumulator_value, reward_exponent, space)[0]


def fit_keras_child(task_name, config, seed=0, data_dir=None, batch_size=100,
                    initial_accumulator_value=0.1, reward_exponent=3.0, space=None):
  """(ChildResult, the trained Keras model on raw strings, or None if training failed)."""
  started = time.time()
  result = _new_result(task_name, config, seed, space)
  config = result.config
  data_dir = data_dir or paths.default_data_dir()
  try:
    task = task_registry.get_task(task_name)
    train, val, test = (task_registry.load_split(task_name, s, data_dir)
                        for s in task_registry.SPLITS)
    model = build_keras_child(config, task.num_classes, data_dir, seed=seed)
    model.compile(
        optimizers.ProximalAdagrad(config['learning_rate'], initial_accumulator_value,
                                   l2=config['regularization']),
        'sparse_categorical_crossentropy', metrics=['accuracy'])
    data = tf.data.Dataset.from_tensor_slices((list(train.texts), train.labels))
    data = data.shuffle(len(train), seed=seed).repeat().batch(batch_size)
    fit_started = time.time()
    history = model.fit(data, steps_per_epoch=config['iterations'], epochs=1, verbose=0,
                        shuffle=False)  # the dataset is shuffled itself
    train_seconds = time.time() - fit_started
    if not np.isfinite(history.history['loss'][-1]):
      return result_lib.failed(result, 'non-finite training loss', started), None
    accuracies = [model.evaluate(tf.constant(list(s.texts)), s.labels, batch_size=1000,
                                 verbose=0)[1] for s in (val, test)]
    result.num_params = int(model.count_params())
    return _finish(result, *accuracies, train_seconds, batch_size, reward_exponent,
                   started), model
  except Exception as e:  # pylint: disable=broad-except
    return result_lib.failed(result, f'{type(e).__name__}: {e}', started), None


class _TaskModuleCache:
  """Word bags (for fine-tuning) and sentence vectors (for frozen children) of one pair."""

  def __init__(self, module, splits):
    self.module = module
    self.splits = splits
    self._bags = {}
    self._task_bags = {}
    self._task_vocabulary = None
    self._vectors = {}
    self._vocabulary_shares = {}

  def bags(self, split):
    """(positions, weights, row splits, vocabulary): each text's distinct token ids, as
    positions in the split's sorted distinct ids (`vocabulary`), weighted count / sqrt(its
    length), so that a text's sentence vector is the weighted sum of its ids' rows (the
    module's sqrt-n combiner). A bag of 100 reviews has 44% of their tokens."""
    if split not in self._bags:
      ragged = tf.concat(list(module_registry.map_text_batches(
          self.module.tokenize, self.splits[split].texts)), axis=0)
      ids, lengths = ragged.flat_values.numpy(), ragged.row_lengths().numpy()
      width = int(ids.max()) + 1 if ids.size else 1
      texts = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
      keys, counts = np.unique(texts * width + ids, return_counts=True)
      bag_texts = keys // width
      weights = counts / np.sqrt(np.maximum(lengths, 1))[bag_texts]
      row_splits = np.searchsorted(bag_texts, np.arange(len(lengths) + 1))
      vocabulary, positions = np.unique(keys % width, return_inverse=True)
      self._bags[split] = (tf.constant(positions, tf.int64), tf.constant(weights, tf.float32),
                           tf.constant(row_splits, tf.int64), tf.constant(vocabulary, tf.int64))
    return self._bags[split]

  def task_vocabulary(self):
    """The sorted distinct ids of every split: the rows a group of fine-tuned children
    trains (training ids) or reads (the others)."""
    if self._task_vocabulary is None:
      self._task_vocabulary = np.unique(np.concatenate(
          [self.bags(s)[3].numpy() for s in self.splits]))
    return self._task_vocabulary

  def task_vocabulary_bags(self, split):
    """(positions in `task_vocabulary()`, weights, row splits) of `bags(split)`."""
    if split not in self._task_bags:
      positions, weights, row_splits, vocabulary = self.bags(split)
      index = np.searchsorted(self.task_vocabulary(), vocabulary.numpy())
      self._task_bags[split] = (tf.gather(tf.constant(index, tf.int64), positions), weights,
                                row_splits)
    return self._task_bags[split]

  def trained_rows(self):
    """The table rows a fine-tuned child on this task can change: its training split's ids."""
    return self.bags('train')[3]

  def batch_vocabulary_share(self, batch_size):
    if batch_size not in self._vocabulary_shares:
      positions, _, row_splits, vocabulary = self.bags('train')
      self._vocabulary_shares[batch_size] = expected_batch_share(
          np.bincount(positions.numpy(), minlength=len(vocabulary)), len(row_splits) - 1,
          batch_size)
    return self._vocabulary_shares[batch_size]

  def vectors(self, split):
    if split not in self._vectors:
      self._vectors[split] = tf.concat(list(module_registry.map_text_batches(
          self.module, self.splits[split].texts)), axis=0)
    return self._vectors[split]


def batch_rows(num_rows, iterations, batch_size, seed):
  """Row indices of every step: epochs of seeded permutations, [iterations, batch_size]."""
  rng = np.random.default_rng(seed)
  needed = iterations * batch_size
  epochs = [rng.permutation(num_rows) for _ in range(max(1, -(-needed // num_rows)))]
  return tf.constant(np.concatenate(epochs)[:needed].reshape(iterations, batch_size), tf.int32)


def expected_batch_share(document_frequencies, num_texts, batch_size):
  """The expected share of a vocabulary in a batch of `batch_size` distinct texts of
  `num_texts`, given how many texts hold each id: 1 - P(no text of the batch holds it)
  (hypergeometric), averaged over ids."""
  if not len(document_frequencies):
    return 1.0
  texts_without = num_texts - np.asarray(document_frequencies)
  log_none = (special.gammaln(texts_without + 1) - special.gammaln(num_texts + 1)
              + special.gammaln(max(num_texts - batch_size, 0) + 1)
              - special.gammaln(np.maximum(texts_without - batch_size, 0) + 1))
  none = np.where(texts_without >= batch_size, np.exp(log_none), 0.0)
  return float(np.mean(1.0 - none))


def _dense_combiner(positions, entry_texts, weights, batch_size, num_distinct):
  """The sqrt-n combiner of a batch as a dense [batch, distinct ids] matrix.

  Training computes sentence vectors as `combiner @ table[distinct]`: a dense matmul whose
  gradient w.r.t. `table[distinct]` is already summed per distinct row, ready for a sparse
  update. On a batch of 100 long reviews (77k tokens, 8.5k distinct) forward and backward
  take 4 ms, against 9 ms for `segment_sqrt_n` and 16 ms for a sparse matmul (profile in
  docs/benchmarks.md). The matrix is small: a training batch is 100 texts.
  It is built by `unsorted_segment_sum`, 4x faster than `scatter_nd` single-threaded.
  """
  cells = tf.math.unsorted_segment_sum(weights, entry_texts * num_distinct + positions,
                                       batch_size * num_distinct)
  return tf.reshape(cells, [batch_size, num_distinct])


class _FineTunedTable:
  """A module's table copy that fine-tuned children train.

  Before each child, only the rows the previous child could change (its task's training
  ids) are restored: a 400k-word table is copied once, not per child (0.3 s each).
  """

  def __init__(self, module):
    self.source = module.embeddings
    # Of unknown shape, so that one trace of a depth serves every module's table.
    self.table = tf.Variable(module.embeddings, shape=tf.TensorShape([None, None]),
                             trainable=True)
    self.accumulator = tf.Variable(tf.zeros_like(self.table), trainable=False,
                                   shape=tf.TensorShape([None, None]))
    self._changed_rows = None  # None: every row is to be restored
    self.vocabulary_table = tf.Variable(tf.zeros([0, 0]), shape=tf.TensorShape([None, None]),
                                        trainable=True)
    self.vocabulary_accumulator = tf.Variable(tf.zeros([0, 0]), trainable=False,
                                              shape=tf.TensorShape([None, None]))

  def variables(self):
    return self.table, self.accumulator

  def vocabulary_variables(self, rows):
    """The current values and accumulators of `rows` alone, to train them as a whole."""
    self.vocabulary_table.assign(tf.gather(self.table, rows))
    self.vocabulary_accumulator.assign(tf.gather(self.accumulator, rows))
    return self.vocabulary_table, self.vocabulary_accumulator

  def write_back(self, rows):
    """Puts trained `vocabulary_variables(rows)` into the table."""
    self.table.scatter_update(tf.IndexedSlices(self.vocabulary_table, rows))
    self.accumulator.scatter_update(tf.IndexedSlices(self.vocabulary_accumulator, rows))

  def reset(self, initial_accumulator_value, rows_to_train):
    if self._changed_rows is None:
      self.table.assign(self.source)
      self.accumulator.assign(tf.fill(tf.shape(self.source), initial_accumulator_value))
    else:
      rows = self._changed_rows
      self.table.scatter_update(tf.IndexedSlices(tf.gather(self.source, rows), rows))
      self.accumulator.scatter_update(tf.IndexedSlices(
          tf.fill([tf.size(rows), tf.shape(self.source)[1]], initial_accumulator_value), rows))
    self._changed_rows = rows_to_train


def _any_shape_variable(rank, trainable):
  return tf.Variable(tf.zeros([0] * rank), shape=tf.TensorShape([None] * rank),
                     trainable=trainable)


class _Architecture:
  """A reusable child of one depth: its weights, optimizer slots and traced functions.

  Weights, and the fine-tuned table the functions are handed, have no fixed shape: children
  of any width, module and number of classes share one trace, so a search traces each
  depth once per worker (frozen and fine-tuned), not each of the space's shapes. The
  traced functions compute the MLP with raw TF ops (its forward pass equals a Keras
  model's bit for bit) and spell out their loop (no autograph): tracing takes a third
  less time. Trained children differ from the Keras-layer version in the last bits (3 of
  12 children in benchmarks/child_throughput.py, by at most 0.004 accuracy).
  """

  def __init__(self, nlayers, fine_tuned=None, whole_vocabulary=False):
    """`fine_tuned`: for fine-tuned children, a table to trace with (any other fits);
    `whole_vocabulary`: they train the table rows of a training vocabulary (`_step`)."""
    self.variables = [_any_shape_variable(rank, trainable=True)
                      for _ in range(nlayers + 1) for rank in (2, 1)]
    self.accumulators = [_any_shape_variable(v.shape.rank, trainable=False)
                         for v in self.variables]
    self.fine_tuned = fine_tuned is not None
    self.whole_vocabulary = whole_vocabulary
    data = ((tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.float32),
             tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int64))
            if self.fine_tuned else
            (tf.TensorSpec([None, None], tf.float32),))
    tables = fine_tuned.variables() if self.fine_tuned else ()
    # Traced here for shapes that fit every call; calls then find this trace.
    self.train_loop = tf.function(self._train_loop, autograph=False)
    self.train_loop.get_concrete_function(
        tf.TensorSpec([None, None], tf.int32), data, tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32), tables)
    self.logits = tf.function(self._logits, autograph=False)
    self.logits.get_concrete_function(data, tf.TensorSpec([None], tf.int32), tables)

  def reset(self, seed, layer_sizes, initial_accumulator_value):
    """Fresh weights of these sizes (input, hidden..., classes) for seed."""
    for i, (inputs, outputs) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:], strict=True)):
      self.variables[2 * i].assign(kernel_initializer(seed, i)((inputs, outputs)))
      self.variables[2 * i + 1].assign(tf.zeros([outputs]))
    for variable, accumulator in zip(self.variables, self.accumulators):
      accumulator.assign(tf.fill(tf.shape(variable), initial_accumulator_value))

  def num_params(self):
    return sum(int(tf.size(v)) for v in self.variables)

  def weights(self):
    """[kernel, bias] of each Dense layer, as Keras `set_weights` takes them."""
    values = [v.numpy() for v in self.variables]
    return [values[i:i + 2] for i in range(0, len(values), 2)]

  def _forward(self, inputs):
    """The MLP: Dense layers, ReLU but on the last."""
    x = inputs
    for i in range(0, len(self.variables), 2):
      x = tf.matmul(x, self.variables[i]) + self.variables[i + 1]
      if i + 2 < len(self.variables):
        x = tf.nn.relu(x)
    return x

  def _train_loop(self, batches, data, labels, learning_rate, l2, tables):
    """Runs every step; stops at the first non-finite loss. Returns (loss, steps run)."""
    def not_done(step, loss):
      return tf.logical_and(step < tf.shape(batches)[0], tf.math.is_finite(loss))

    def one_step(step, loss):
      del loss
      return step + 1, self._step(batches[step], data, labels, learning_rate, l2, tables)

    steps, loss = tf.while_loop(not_done, one_step, [tf.constant(0), tf.constant(0.0)])
    return loss, steps

  def _step(self, rows, data, labels, learning_rate, l2, tables):
    """One proximal Adagrad step on a batch. Not guarded against a non-finite loss: that
    ends the loop and fails the child, whose weights the next child resets.

    A fine-tuned step trains the table rows of the batch's distinct ids, or, with
    `whole_vocabulary`, `tables` hold just the training vocabulary's rows and a step
    trains them all: no `tf.unique` (a fifth of a step on long texts), gather or
    scatter. That is the same update where a row's gradient is zero: it keeps its
    accumulator, and its value, as its L2 is taken as zero; worth it when a batch holds
    most of the vocabulary (100 of 113 speeches: 95%).
    """
    watched = list(self.variables)
    if self.fine_tuned:
      positions, weights, entry_texts = stacked.bag_entries(data[:3], rows)
      table, table_accumulator = tables
      if self.whole_vocabulary:
        positions = tf.cast(positions, tf.int32)
        table_rows = tf.convert_to_tensor(table)
      else:
        distinct, positions = tf.unique(positions)
        distinct = tf.gather(data[3], distinct)
        table_rows = tf.gather(table, distinct)
      num_rows = tf.shape(table_rows)[0]
      combiner = _dense_combiner(positions, entry_texts, weights, tf.size(rows), num_rows)
      watched.append(table_rows)
    with tf.GradientTape() as tape:
      if self.fine_tuned:
        tape.watch(table_rows)
        inputs = tf.matmul(combiner, table_rows)
      else:
        inputs = tf.gather(data[0], rows)
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          tf.gather(labels, rows), self._forward(inputs)))

    gradients = tape.gradient(loss, watched)
    updates = [optimizers.apply_proximal_adagrad(variable, accumulator, gradient,
                                                 learning_rate, 0.0, l2)
               for variable, accumulator, gradient in zip(self.variables, self.accumulators,
                                                          gradients)]
    if self.fine_tuned and self.whole_vocabulary:
      in_batch = tf.math.unsorted_segment_max(weights, positions, num_rows) > 0
      updates.append(optimizers.apply_proximal_adagrad(
          table, table_accumulator, gradients[-1], learning_rate, 0.0,
          l2 * tf.cast(in_batch, tf.float32)[:, None]))
    elif self.fine_tuned:
      updates.append(optimizers.apply_proximal_adagrad_rows(
          table, table_accumulator, distinct, table_rows, gradients[-1], learning_rate, 0.0,
          l2))
    with tf.control_dependencies(updates):
      return tf.identity(loss)

  def _logits(self, data, rows, tables):
    if self.fine_tuned:
      # Evaluation batches are large: a weighted sum, not a dense combiner.
      positions, weights, entry_texts = stacked.bag_entries(data[:3], rows)
      return self._forward(tf.math.unsorted_segment_sum(
          tf.gather(tables[0], tf.gather(data[3], positions)) * weights[:, None], entry_texts,
          tf.size(rows)))
    return self._forward(tf.gather(data[0], rows))


@gin.configurable(denylist=['data_dir', 'space'])
class ChildTrainer:
  """The fast path: trains children on one process's cached data and reusable graphs."""

  def __init__(self, data_dir=None, batch_size=100, initial_accumulator_value=0.1,
               reward_exponent=3.0, eval_batch_size=2048, whole_vocabulary_share=0.75,
               space=None):
    """`whole_vocabulary_share`: fine-tuned children of a task whose batch is expected to
    hold at least this share of its training vocabulary train all of it each step
    (`_Architecture._step`: the same update up to float summation order; 1.38x faster on
    113 speeches, share 0.95, and 8% slower at 0.55); None: never, as before it existed."""
    self.data_dir = data_dir or paths.default_data_dir()
    self.batch_size = batch_size
    self.whole_vocabulary_share = whole_vocabulary_share
    self.initial_accumulator_value = initial_accumulator_value
    self.reward_exponent = reward_exponent
    self.eval_batch_size = eval_batch_size
    self.space = space or search_space.SearchSpace()
    self._modules = {}
    self._caches = {}
    self._fine_tuned_tables = {}
    self._architectures = {}
    self._stacked_architectures = {}

  def settings(self):
    """What defines its results (recorded in run.json; `ChildTrainer(**settings)` again)."""
    return dict(batch_size=self.batch_size,
                initial_accumulator_value=self.initial_accumulator_value,
                reward_exponent=self.reward_exponent, eval_batch_size=self.eval_batch_size,
                whole_vocabulary_share=self.whole_vocabulary_share)

  def _module(self, name):
    if name not in self._modules:
      self._modules[name] = module_registry.load(name, self.data_dir)
    return self._modules[name]

  def task_module_data(self, task_name, module_name):
    """The task's splits as word bags and sentence vectors of one module, made once."""
    key = (task_name, module_name)
    if key not in self._caches:
      splits = {s: task_registry.load_split(task_name, s, self.data_dir)
                for s in task_registry.SPLITS}
      self._caches[key] = _TaskModuleCache(self._module(module_name), splits)
    return self._caches[key]

  def _fine_tuned_table(self, module_name):
    if module_name not in self._fine_tuned_tables:
      self._fine_tuned_tables[module_name] = _FineTunedTable(self._module(module_name))
    return self._fine_tuned_tables[module_name]

  def _trains_whole_vocabulary(self, cache, config):
    return (config['trainable'] and self.whole_vocabulary_share is not None and
            cache.batch_vocabulary_share(self.batch_size) >= self.whole_vocabulary_share)

  def _architecture(self, config, whole_vocabulary):
    key = (config['trainable'], config['nlayers'], whole_vocabulary)
    if key not in self._architectures:
      self._architectures[key] = _Architecture(
          config['nlayers'],
          self._fine_tuned_table(config['embedding']) if config['trainable'] else None,
          whole_vocabulary)
    return self._architectures[key]

  def _accuracy(self, logits, labels):
    """Accuracy of `logits(rows)` on `labels`, in evaluation batches."""
    correct = 0
    for start in range(0, len(labels), self.eval_batch_size):
      rows = tf.range(start, min(start + self.eval_batch_size, len(labels)))
      predictions = tf.argmax(logits(rows), axis=-1).numpy()
      correct += int(np.sum(predictions == labels[start:start + self.eval_batch_size]))
    return correct / len(labels)

  def train_model(self, task_name, config, seed=0):
    """(ChildResult, the trained child as a Keras model on raw strings, or None if it failed):
    the same child `train` gives for these arguments, for export."""
    config = self.space.validate(config)
    if config['trainable'] and not hasattr(self._module(config['embedding']), 'tokenize'):
      return fit_keras_child(task_name, config, seed, self.data_dir, self.batch_size,
                             self.initial_accumulator_value, self.reward_exponent, self.space)
    result = self.train(task_name, config, seed)
    if result.status != result_lib.OK:
      return result, None
    architecture = self._architecture(config, self._trains_whole_vocabulary(
        self.task_module_data(task_name, config['embedding']), config))
    model = build_keras_child(config, task_registry.get_task(task_name).num_classes,
                              self.data_dir)
    dense_layers = [l for l in model.layers if isinstance(l, keras.layers.Dense)]
    for target, weights in zip(dense_layers, architecture.weights(), strict=True):
      target.set_weights(weights)
    if config['trainable']:
      embedding, = [l for l in model.layers if isinstance(l, layer_lib.HubTextEmbedding)]
      embedding.module.embeddings.assign(self._fine_tuned_table(config['embedding']).table)
    return result, model

  def train(self, task_name, config, seed=0):
    """Trains and evaluates one child; returns a ChildResult (never raises on failure)."""
    started = time.time()
    result = _new_result(task_name, config, seed, self.space)
    config = result.config
    try:
      module = self._module(config['embedding'])
      if config['trainable'] and not hasattr(module, 'tokenize'):
        return train_keras(task_name, config, seed, self.data_dir, self.batch_size,
                           self.initial_accumulator_value, self.reward_exponent, self.space)
      task = task_registry.get_task(task_name)
      cache = self.task_module_data(task_name, config['embedding'])
      data = {s: cache.bags(s) if config['trainable'] else (cache.vectors(s),)
              for s in task_registry.SPLITS}
      whole_vocabulary = self._trains_whole_vocabulary(cache, config)
      architecture = self._architecture(config, whole_vocabulary)
      layer_sizes = ([int(module.embeddings.shape[-1])] + [config['nnodes']] * config['nlayers']
                     + [task.num_classes])
      architecture.reset(seed, layer_sizes, self.initial_accumulator_value)
      tables = training_tables = ()
      if config['trainable']:
        fine_tuned = self._fine_tuned_table(config['embedding'])
        fine_tuned.reset(self.initial_accumulator_value, cache.trained_rows())
        tables = training_tables = fine_tuned.variables()
        if whole_vocabulary:
          training_tables = fine_tuned.vocabulary_variables(cache.trained_rows())
      train_labels = cache.splits['train'].labels
      batches = batch_rows(len(train_labels), config['iterations'], self.batch_size, seed)
      train_started = time.time()
      loss, steps = architecture.train_loop(
          batches, data['train'], tf.constant(train_labels, tf.int32),
          tf.constant(config['learning_rate'], tf.float32),
          tf.constant(config['regularization'], tf.float32), training_tables)
      if whole_vocabulary:
        fine_tuned.write_back(cache.trained_rows())
      train_seconds = time.time() - train_started
      if not np.isfinite(loss.numpy()):
        return result_lib.failed(result, f'non-finite training loss at step {int(steps)}', started)
      accuracies = [self._accuracy(lambda rows, s=s: architecture.logits(data[s], rows, tables),
                                   cache.splits[s].labels) for s in ('validation', 'test')]
      result.num_params = architecture.num_params() + int(np.prod(module.embeddings.shape))
      return _finish(result, *accuracies, train_seconds, self.batch_size, self.reward_exponent,
                     started)
    except Exception as e:  # pylint: disable=broad-except
      return result_lib.failed(result, f'{type(e).__name__}: {e}', started)

  def _stacked(self, config):
    key = (config['trainable'], config['nlayers'])
    if key not in self._stacked_architectures:
      self._stacked_architectures[key] = stacked.StackedArchitecture(config['nlayers'],
                                                                     config['trainable'])
    return self._stacked_architectures[key]

  def train_group(self, task_name, members):
    """Trains `members` [(config, seed)], children of `task_name` with one module,
    fine-tuning and depth, as one stacked computation (stacked.py); returns their
    ChildResults in order. Each equals `train(task_name, config, seed)` up to float
    summation order; its `train_seconds` and `total_seconds` are its share of the group's
    by steps. Never raises on failure: an exception fails every member."""
    started = time.time()
    results = [_new_result(task_name, config, seed, self.space) for config, seed in members]
    configs = [r.config for r in results]
    keys = [search_space.graph_key(task_name, c) for c in configs]
    if len(set(keys)) > 1:
      raise ValueError(f'Children of a group share task, module, fine-tuning and depth: {keys}')
    try:
      module = self._module(configs[0]['embedding'])
      if len(members) == 1 or (configs[0]['trainable'] and not hasattr(module, 'tokenize')):
        return [self.train(task_name, config, seed) for config, seed in members]
      self._train_stacked(task_name, module, results, started)
    except Exception as e:  # pylint: disable=broad-except
      for result in results:
        result_lib.failed(result, f'{type(e).__name__}: {e}', started)
    return results

  def _train_stacked(self, task_name, module, results, started):
    """Fills `results` (validated, of one group) in place."""
    order = sorted(range(len(results)), key=lambda g: -results[g].config['iterations'])
    members = [results[g] for g in order]
    first = members[0].config
    cache = self.task_module_data(task_name, first['embedding'])
    dim = int(module.embeddings.shape[-1])
    num_classes = task_registry.get_task(task_name).num_classes
    layer_sizes = [[dim] + [m.config['nnodes']] * first['nlayers'] + [num_classes]
                   for m in members]
    architecture = self._stacked(first)
    table = None
    if first['trainable']:
      data = {s: cache.task_vocabulary_bags(s) for s in task_registry.SPLITS}
      table = tf.concat([tf.gather(module.embeddings, cache.task_vocabulary()),
                         tf.zeros([1, dim])], axis=0)  # the padding row
    else:
      data = {s: (cache.vectors(s),) for s in task_registry.SPLITS}
    architecture.reset([m.seed for m in members], layer_sizes, self.initial_accumulator_value,
                       kernel_initializer, table)
    iterations = [m.config['iterations'] for m in members]
    train_labels = cache.splits['train'].labels
    batches = np.zeros([len(members), iterations[0], self.batch_size], np.int32)
    for g, member in enumerate(members):
      batches[g, :iterations[g]] = batch_rows(len(train_labels), iterations[g],
                                              self.batch_size, member.seed)
    train_started = time.time()
    failed_at = architecture.train(
        batches, data['train'], tf.constant(train_labels, tf.int32), iterations,
        [m.config['learning_rate'] for m in members],
        [m.config['regularization'] for m in members])
    train_seconds = time.time() - train_started
    for g, member in enumerate(members):
      share = iterations[g] / sum(iterations)
      if failed_at[g]:
        result_lib.failed(member, f'non-finite training loss at step {int(failed_at[g])}',
                          started)
      else:
        accuracies = [self._accuracy(
            lambda rows, s=s, g=g: architecture.logits(data[s], rows, tf.constant(g)),
            cache.splits[s].labels) for s in ('validation', 'test')]
        sizes = layer_sizes[g]
        member.num_params = (sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))
                             + int(np.prod(module.embeddings.shape)))
        _finish(member, *accuracies, train_seconds * share, self.batch_size,
                self.reward_exponent, started)
      member.total_seconds = (time.time() - started) * share
