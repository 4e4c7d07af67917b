"""The child's architecture, relaxed (DARTS, Liu et al. 2019), for the differentiable search
of arXiv 2205.06355 (controllers/differentiable.py).

One supernet holds every architecture of the space at once:
- (embedding module, fine-tuned) as one softmax over the pairs: the input is the weighted sum
  of each pair's sentence vectors, zero-padded to the widest module (so that a narrow
  module feeds the first layer as it feeds a child's); a fine-tuned pair trains its own copy
  of its module's rows of the task's vocabulary, a frozen pair reads the module;
- depth as a softmax over classifier heads on the outputs of shared layers at each depth;
- width as a softmax over masks of the widest layer (the same mask at every layer, as one
  `nnodes` is every layer's width in a child).
Learning rate, training length and l2 do not relax: they are given (`hyperparameters`), and
the weights train with the child's proximal Adagrad at that rate and l2. First-order DARTS:
each step trains the weights on a training batch, then the architecture weights (Adam) on a
validation batch. Several tasks share the architecture weights and the hidden layers, each
with its own heads and tables: the meta-architecture of the seed (one task: the usual search).

The derived configs are every architecture ranked by its probability under the architecture
weights (the argmax first), completed with the given hyperparameters.
"""
import dataclasses
import itertools
import json
import os
import time

from absl import logging
import gin
import numpy as np
import keras
import tensorflow as tf

from mnms_tf.children import optimizers
from mnms_tf.children import stacked
from mnms_tf.children import trainer as trainer_lib
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors

# The parameters the supernet relaxes; the space's others are its hyperparameters.
EMBEDDING, TRAINABLE, DEPTH, WIDTH = 'embedding', 'trainable', 'nlayers', 'nnodes'
ARCHITECTURE_KEYS = (EMBEDDING, TRAINABLE, DEPTH, WIDTH)


class SupernetError(errors.UserError, ValueError):
  pass


@gin.configurable
@dataclasses.dataclass(frozen=True)
class SupernetSettings:
  """`steps`: weight steps (each followed by an architecture step); `architecture_learning_
  rate`: Adam's, for the architecture weights (DARTS: 3e-4 over 50 epochs of CIFAR; a few
  hundred steps here need more)."""
  steps: int = 300
  architecture_learning_rate: float = 0.05
  batch_size: int = 100
  initial_accumulator_value: float = 0.1
  log_every: int = 100

  def __post_init__(self):
    if self.steps < 0:
      raise SupernetError(f'SupernetSettings.steps must be >= 0, got {self.steps}')


def architecture_choices(space):
  """{name: choices} of the relaxed parameters; a one-line error if the space lacks one."""
  missing = [k for k in ARCHITECTURE_KEYS if k not in space.choices]
  if missing:
    raise SupernetError(f'A differentiable search needs the space parameters '
                        f'{list(ARCHITECTURE_KEYS)}; this space lacks {missing}')
  return {k: space.choices[k] for k in ARCHITECTURE_KEYS}


def pairs(space):
  """The (module, fine-tuned) pairs of the embedding softmax, in the space's order."""
  choices = architecture_choices(space)
  return list(itertools.product(choices[EMBEDDING], choices[TRAINABLE]))


def hyperparameters_of(config):
  """A config's values of the parameters that do not relax."""
  return {k: v for k, v in config.items() if k not in ARCHITECTURE_KEYS}


def initial_alphas(space):
  """Architecture weights of a cold start: all choices equally likely."""
  choices = architecture_choices(space)
  return {'pairs': [0.0] * len(pairs(space)), DEPTH: [0.0] * len(choices[DEPTH]),
          WIDTH: [0.0] * len(choices[WIDTH])}


class Supernet(tf.Module):
  """Shared architecture weights and hidden layers; per task, classifier heads and tables."""

  def __init__(self, space, task_data, num_classes, seed=0, alphas=None):
    """`task_data`: per task, {module: trainer._TaskModuleCache}; `num_classes`: per task."""
    super().__init__(name='supernet')
    choices = architecture_choices(space)
    self.pairs = pairs(space)
    self.depths = [int(d) for d in choices[DEPTH]]
    self.widths = [int(w) for w in choices[WIDTH]]
    alphas = alphas or initial_alphas(space)
    self.alphas = {k: tf.Variable(np.asarray(alphas[k], np.float32), name=f'alpha_{k}')
                   for k in ('pairs', DEPTH, WIDTH)}
    self.task_data = task_data
    dims = {m: int(data.module.embeddings.shape[-1])
            for data_of_task in task_data for m, data in data_of_task.items()}
    self.input_width, hidden = max(dims.values()), max(self.widths)
    glorot = lambda i, shape: trainer_lib.kernel_initializer(seed, i)(shape)
    self.kernels = [tf.Variable(glorot(i, (self.input_width if i == 0 else hidden, hidden)))
                    for i in range(max(self.depths))]
    self.biases = [tf.Variable(tf.zeros([hidden])) for _ in self.kernels]
    # (the heads' layer indices start at 100: no head starts as a hidden layer does)
    self.heads = [[tf.Variable(glorot(100 + d, (self.input_width if d == 0 else hidden, c)))
                   for d in self.depths] for c in num_classes]
    self.head_biases = [[tf.Variable(tf.zeros([c])) for _ in self.depths] for c in num_classes]
    # A fine-tuned pair's rows of its task's vocabulary (bags index them).
    self.tables = [{m: tf.Variable(tf.gather(data.module.embeddings, data.task_vocabulary()))
                    for (m, trainable) in self.pairs if trainable
                    for data in [data_of_task[m]]}
                   for data_of_task in task_data]

  def probabilities(self):
    return {k: tf.nn.softmax(v).numpy().tolist() for k, v in self.alphas.items()}

  def weights(self, task):
    """The weights a training step moves for `task` (architecture weights excluded)."""
    return (self.kernels + self.biases + self.heads[task] + self.head_biases[task]
            + list(self.tables[task].values()))

  def _pair_inputs(self, task, split, rows):
    inputs = []
    for module, trainable in self.pairs:
      data = self.task_data[task][module]
      if trainable:
        positions, weights, texts = stacked.bag_entries(data.task_vocabulary_bags(split), rows)
        vectors = tf.math.unsorted_segment_sum(
            tf.gather(self.tables[task][module], positions) * weights[:, None], texts,
            tf.size(rows))
      else:
        vectors = tf.gather(data.vectors(split), rows)
      inputs.append(tf.pad(vectors, [[0, 0], [0, self.input_width - vectors.shape[-1]]]))
    return tf.stack(inputs)  # [pairs, batch, input width]

  def logits(self, task, inputs):
    pair_weights = tf.nn.softmax(self.alphas['pairs'])
    depth_weights = tf.nn.softmax(self.alphas[DEPTH])
    width_weights = tf.nn.softmax(self.alphas[WIDTH])
    x = tf.einsum('p,pbd->bd', pair_weights, inputs)
    units = tf.range(max(self.widths))
    mask = tf.reduce_sum(width_weights[:, None] * tf.cast(
        units[None, :] < tf.constant(self.widths)[:, None], tf.float32), axis=0)
    outputs, h = {}, x
    for depth in range(max(self.depths) + 1):
      if depth:
        h = tf.nn.relu(tf.matmul(h, self.kernels[depth - 1]) + self.biases[depth - 1]) * mask
      if depth in self.depths:
        d = self.depths.index(depth)
        outputs[d] = tf.matmul(h, self.heads[task][d]) + self.head_biases[task][d]
    return tf.add_n([depth_weights[d] * outputs[d] for d in range(len(self.depths))])

  def loss(self, task, split, labels, rows):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.gather(labels, rows), self.logits(task, self._pair_inputs(task, split, rows))))

  def accuracy(self, task, split, labels):
    rows = tf.range(len(labels))
    predictions = tf.argmax(self.logits(task, self._pair_inputs(task, split, rows)), axis=-1)
    return float(np.mean(predictions.numpy() == labels))


@dataclasses.dataclass
class ArchitectureSearch:
  """What a supernet search found: plain data, saved as a warm start's source."""
  tasks: list
  alphas: dict
  probabilities: dict
  steps: int
  seconds: float
  validation_accuracy: list  # the supernet's, per task

  def describe(self):
    return dataclasses.asdict(self)


def search_architecture(trainer, space, tasks, hyperparameters, settings=None, seed=0,
                        alphas=None, checkpoint_weights=None, restore_weights=None):
  """Trains a supernet over `tasks` (first-order DARTS); returns an ArchitectureSearch.

  `alphas`: initial architecture weights (a warm start; default: cold); `restore_weights`:
  a checkpoint prefix whose hidden layers start this supernet (the seed's warm start with
  weights; the heads, its classifiers, are new); `checkpoint_weights`: a prefix to save this
  supernet's hidden layers to. Its `seconds` are all of this call's (data, tracing, steps,
  evaluation): the search's cost. A step with a non-finite loss ends the training, the
  architecture weights as they were before it (logged; `steps` says how many ran)."""
  started = time.time()
  settings = settings or SupernetSettings()
  architecture_choices(space)  # (the space has what relaxes, or a one-line error)
  task_data, labels, num_classes = [], [], []
  for task in tasks:
    modules = {m for m, _ in pairs(space)}
    task_data.append({m: trainer.task_module_data(task, m) for m in sorted(modules)})
    splits = next(iter(task_data[-1].values())).splits
    labels.append({s: splits[s].labels for s in ('train', 'validation')})
    num_classes.append(task_registry.get_task(task).num_classes)
  for module, trainable in pairs(space):
    if trainable and not hasattr(task_data[0][module].module, 'tokenize'):
      raise SupernetError(f'Module {module!r} cannot be fine-tuned in a supernet (it does '
                          f'not tokenise separately); leave it out of SearchSpace.choices')
    for data in task_data:  # made here, outside the traced steps that read them
      for split in ('train', 'validation'):
        data[module].task_vocabulary_bags(split) if trainable else data[module].vectors(split)
  supernet = Supernet(space, task_data, num_classes, seed, alphas)
  hidden = tf.train.Checkpoint(kernels=supernet.kernels, biases=supernet.biases)
  if restore_weights:
    hidden.read(restore_weights).assert_existing_objects_matched()
  weight_optimizer = [optimizers.ProximalAdagrad(
      hyperparameters['learning_rate'], settings.initial_accumulator_value,
      l2=hyperparameters.get('regularization', 0.0)) for _ in tasks]
  alpha_optimizer = keras.optimizers.Adam(settings.architecture_learning_rate)
  alpha_variables = list(supernet.alphas.values())
  alpha_optimizer.build(alpha_variables)  # (optimizers make their slots outside a trace)
  for task, optimizer in enumerate(weight_optimizer):
    optimizer.build(supernet.weights(task))

  def step(task, train_rows, validation_rows):
    with tf.GradientTape() as tape:
      loss = supernet.loss(task, 'train', labels_tf[task]['train'], train_rows)
    weights = supernet.weights(task)
    weight_optimizer[task].apply_gradients(zip(tape.gradient(loss, weights), weights))
    with tf.GradientTape() as tape:
      validation_loss = supernet.loss(task, 'validation', labels_tf[task]['validation'],
                                      validation_rows)
    alpha_optimizer.apply_gradients(zip(tape.gradient(validation_loss, alpha_variables),
                                        alpha_variables))
    return loss, validation_loss

  labels_tf = [{s: tf.constant(v, tf.int32) for s, v in task_labels.items()}
               for task_labels in labels]
  steps = [tf.function(lambda t, v, task=task: step(task, t, v), autograph=False)
           for task in range(len(tasks))]
  per_task = -(-settings.steps // len(tasks))
  rows = [{s: trainer_lib.batch_rows(len(labels[t][s]), per_task, settings.batch_size,
                                     seed * 1000 + 2 * t + k).numpy()
           for k, s in enumerate(('train', 'validation'))} for t in range(len(tasks))]
  done = 0
  for k in range(settings.steps):
    task = k % len(tasks)
    before = [v.numpy() for v in alpha_variables]
    loss, validation_loss = steps[task](rows[task]['train'][k // len(tasks)],
                                        rows[task]['validation'][k // len(tasks)])
    if not (np.isfinite(loss.numpy()) and np.isfinite(validation_loss.numpy())):
      logging.warning('supernet: a non-finite loss at step %d (learning rate %s): its '
                      'training ends there', k + 1, hyperparameters['learning_rate'])
      for variable, value in zip(alpha_variables, before):
        variable.assign(value)
      break
    done = k + 1
    if settings.log_every and (k + 1) % settings.log_every == 0:
      logging.info('supernet: step %d/%d, loss %.3f, validation loss %.3f, %s', k + 1,
                   settings.steps, loss, validation_loss,
                   format_probabilities(supernet.probabilities(), space))
  if checkpoint_weights:
    hidden.write(checkpoint_weights)
  accuracies = [supernet.accuracy(t, 'validation', labels[t]['validation'])
                for t in range(len(tasks))]
  return ArchitectureSearch(
      tasks=list(tasks), alphas={k: v.numpy().tolist() for k, v in supernet.alphas.items()},
      probabilities=supernet.probabilities(), steps=done, seconds=time.time() - started,
      validation_accuracy=accuracies)


def format_probabilities(probabilities, space):
  """The argmax of each softmax and its probability, for a log line."""
  choices = architecture_choices(space)
  best = lambda values: int(np.argmax(values))
  module, trainable = pairs(space)[best(probabilities['pairs'])]
  return (f'argmax {module} {"fine-tuned" if trainable else "frozen"} '
          f'{max(probabilities["pairs"]):.2f}, depth {choices[DEPTH][best(probabilities[DEPTH])]} '
          f'{max(probabilities[DEPTH]):.2f}, width {choices[WIDTH][best(probabilities[WIDTH])]} '
          f'{max(probabilities[WIDTH]):.2f}')


def derived_configs(space, alphas, hyperparameters):
  """Every distinct child of the space's architectures, most probable first (the argmax of
  each softmax first), with `hyperparameters` for the parameters that do not relax."""
  choices = architecture_choices(space)
  log_p = {k: np.log(tf.nn.softmax(np.asarray(v, np.float64)).numpy())
           for k, v in alphas.items()}
  ranked = []
  for (p, (module, trainable)), (d, depth), (w, width) in itertools.product(
      enumerate(pairs(space)), enumerate(choices[DEPTH]), enumerate(choices[WIDTH])):
    config = dict(hyperparameters, embedding=module, trainable=trainable, nlayers=depth,
                  nnodes=width)
    config = space.validate({k: config[k] for k in space.keys})
    inactive_width = space.canonical(config)[WIDTH] is None
    score = log_p['pairs'][p] + log_p[DEPTH][d] + (0.0 if inactive_width else log_p[WIDTH][w])
    ranked.append((-score, p, d, w, config))
  ranked.sort(key=lambda entry: entry[:4])
  seen, configs = set(), []
  for *_, config in ranked:
    if space.config_hash(config) not in seen:
      seen.add(space.config_hash(config))
      configs.append(config)
  return configs


ARCHITECTURE_FILE = 'architecture.json'
META = 'meta'  # the meta-architecture's directory among the tasks' (build_architectures)


def weights_prefix(directory):
  """The checkpoint prefix of a saved search's hidden layers."""
  return os.path.join(directory, 'weights')


def save_architecture(directory, space, found):
  """DIRECTORY/architecture.json: what a warm start reads (the hidden layers, if saved by
  `search_architecture(checkpoint_weights=weights_prefix(directory))`, beside it)."""
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, ARCHITECTURE_FILE), 'w') as f:
    json.dump(dict(found.describe(), search_space=space.describe()), f, indent=1)


def load_architecture(directory, space):
  """A saved search (plain data); a one-line error if it is missing or of another space."""
  path = os.path.join(directory, ARCHITECTURE_FILE)
  if not os.path.exists(path):
    raise SupernetError(f'No architecture search in {directory} ({ARCHITECTURE_FILE} is '
                        f'missing): give a directory that supernet.save_architecture wrote')
  with open(path) as f:
    saved = json.load(f)
  if saved['search_space'] != space.describe():
    raise SupernetError(f'The architecture search in {directory} is of another search space; '
                        f'search again with this one')
  return saved


def searched_tasks(directory):
  """The tasks whose architecture searches `directory` holds (build_architectures)."""
  if not os.path.isdir(directory):
    raise SupernetError(f'{directory} holds no architecture searches: a suite experiment, '
                        f'benchmark fold or knowledge base builds them (its architectures/)')
  return sorted(name for name in os.listdir(directory) if name != META and
                os.path.exists(os.path.join(directory, name, ARCHITECTURE_FILE)))


def build_architectures(directory, trainer, space, tasks, hyperparameters, settings=None,
                        seed=0):
  """DIRECTORY/TASK: each task's architecture search, and DIRECTORY/meta: one over all of
  them (as many steps per task), each with its hidden layers: what a warm start reads.
  `hyperparameters`: task -> its values of the parameters that do not relax (the meta-
  architecture's weights train with the first task's). Resumes: a saved search is kept."""
  settings = settings or SupernetSettings()
  jobs = [([task], task, settings) for task in tasks]
  jobs.append((list(tasks), META, dataclasses.replace(settings,
                                                      steps=settings.steps * len(tasks))))
  for searched, name, job_settings in jobs:
    target = os.path.join(directory, name)
    if os.path.exists(os.path.join(target, ARCHITECTURE_FILE)):
      continue
    logging.info('=== architecture search: %s (%d steps) ===', name, job_settings.steps)
    found = search_architecture(trainer, space, searched, hyperparameters[searched[0]],
                                job_settings, seed, checkpoint_weights=weights_prefix(target))
    save_architecture(target, space, found)  # last: its file marks the search done
