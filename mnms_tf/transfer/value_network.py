"""What to train on a new task before training anything on it (arXiv 1902.05781).

A value network predicts a child's validation accuracy from the task's representation and
the config, learned from the trials of past searches; gradient ascent on a relaxed config
then finds the configs it rates best for a task it has never seen.

Input: the task's representation (`data.features.TaskFeatures.representation`: meta-features, and
optionally a projection of Task2Vec; standardised over the training tasks) concatenated
with the config as one distribution per search-space parameter (one-hot for a stored
trial; the softmax of free logits during the ascent). Output: the predicted validation
accuracy, fitted by squared error; with `ValueNetworkSettings.loss = 'pairwise'` by the pairwise
ranking loss of arXiv 1911.11481 instead, and then a score that orders one task's configs,
not an accuracy. `ensemble_size` networks of consecutive seeds are fitted alike; the
prediction is their mean.

Inference (`suggest`): Adam ascent on the logits from `restarts` seeded random starts
(optionally plus an entropy bonus), each projected to a config by argmax per parameter;
these and their one-parameter neighbours are ranked, and the top k distinct (by config
hash) are returned with their predictions. Both the ascent and the ranking maximise the
ensemble's mean minus `AscentSettings.pessimism` times its spread (standard deviation):
on a new task, the configs the networks agree on. The papers fit one network (ensemble of
1, pessimism 0); our default of 8 and 1 is what the suite's held-out tasks measured best
(docs/transfer.md).

A fitted network is a directory: value_network.json (settings, the run directories and
tasks it learned from, its trial count, the task representations and their
standardisation, the search space) and checkpoints/ (`search/checkpoints.py`: every
member's weights and optimizer, epoch). `fit` resumes an interrupted fit and ends with the
weights of an uninterrupted one (each epoch shuffles by (member seed, epoch)).
"""
import dataclasses
import json
import os
from typing import Sequence

from absl import logging
import gin
import keras
import numpy as np
import tensorflow as tf

from mnms_tf.children import space as search_space
from mnms_tf.controllers import losses
from mnms_tf import errors
from mnms_tf.search import checkpoints
from mnms_tf.search import store as store_lib

INFO, CHECKPOINTS = 'value_network.json', 'checkpoints'
LOSSES = ('mse', 'pairwise')


class ValueNetworkError(errors.UserError, ValueError):
  pass


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ValueNetworkSettings:
  """The network and its fit (the paper's sizes are not given; ours are small: a few
  thousand trials of a dozen tasks)."""
  hidden_units: Sequence[int] = (64, 64)
  bilinear_rank: int = 16
  loss: str = 'mse'
  epochs: int = 500
  batch_size: int = 128
  learning_rate: float = 0.01
  seed: int = 0  # member k: seed + k
  checkpoint_every: int = 50  # epochs
  ensemble_size: int = 8

  def __post_init__(self):
    object.__setattr__(self, 'hidden_units', tuple(self.hidden_units))
    if self.loss not in LOSSES:
      raise ValueNetworkError(f'ValueNetworkSettings.loss must be one of {LOSSES}, got '
                              f'{self.loss!r}')
    if self.ensemble_size < 1:
      raise ValueNetworkError(f'ValueNetworkSettings.ensemble_size must be at least 1, got '
                              f'{self.ensemble_size}')


@gin.configurable
@dataclasses.dataclass(frozen=True)
class AscentSettings:
  """Gradient ascent on the config logits."""
  steps: int = 100
  learning_rate: float = 0.3
  restarts: int = 16
  entropy_weight: float = 0.0
  pessimism: float = 1.0
  seed: int = 0


@dataclasses.dataclass
class Trials:
  """The `ok` trials of run directories, as the network sees them."""
  tasks: list          # [N] task names
  actions: np.ndarray  # [N, parameters] choice indices
  accuracies: np.ndarray  # [N] validation accuracies


def load_trials(run_dirs, space, exclude_tasks=()):
  tasks, actions, accuracies, outside = [], [], [], 0
  for run in run_dirs:
    with store_lib.TrialStore(run, read_only=True) as store:
      for row in store.trials(status=store_lib.OK):
        if row['task'] in exclude_tasks:
          continue
        try:
          actions.append(space.to_actions(row['config']))
        except search_space.InvalidConfigError:
          outside += 1
          continue
        tasks.append(row['task'])
        accuracies.append(row['val_accuracy'])
  if outside:
    logging.warning('%d trials are outside the search space and were left out', outside)
  if not tasks:
    raise ValueNetworkError(f'No successful trials to learn from in {list(run_dirs)}'
                            + (f' besides {list(exclude_tasks)}' if exclude_tasks else ''))
  return Trials(tasks, np.array(actions, np.int64), np.array(accuracies, np.float32))


def one_hot(actions, sizes):
  """[N, sum(sizes)]: each parameter's choice as a one-hot block."""
  actions = np.asarray(actions)
  return np.concatenate([np.eye(size, dtype=np.float32)[actions[:, k]]
                         for k, size in enumerate(sizes)], axis=1)


class Scorer(keras.Model):
  """MLP(config) + w . task + <task U, config V>. The MLP learns what makes a config good
  on any task, the linear term how easy a task is, and the low-rank bilinear term which
  choices suit which task features. With a dozen training tasks, an MLP over the task and
  the config together memorises each task and says nothing about a new one."""

  def __init__(self, task_size, settings):
    super().__init__(name='value_network')
    seeds = iter(range(settings.seed * 1000, settings.seed * 1000 + 1000))

    def dense(units, **kwargs):
      return keras.layers.Dense(units, kernel_initializer=keras.initializers.GlorotUniform(
          seed=next(seeds)), **kwargs)

    self.task_size = task_size
    self.hidden = [dense(units, activation='relu') for units in settings.hidden_units]
    self.config_quality, self.task_offset = dense(1), dense(1, use_bias=False)
    self.task_factors, self.config_factors = (dense(settings.bilinear_rank, use_bias=False)
                                              for _ in range(2))

  def call(self, inputs):
    task, config = inputs[:, :self.task_size], inputs[:, self.task_size:]
    x = config
    for layer in self.hidden:
      x = layer(x)
    interaction = tf.reduce_sum(self.task_factors(task) * self.config_factors(config), axis=1)
    return self.config_quality(x)[:, 0] + self.task_offset(task)[:, 0] + interaction


class ValueNetwork:
  """A fitted (or fitting) network and what it learned from; see the module doc."""

  def __init__(self, model_dir, info):
    self.model_dir, self.info = model_dir, info
    self.settings = _stored_settings(info)
    self.space = search_space.SearchSpace(**info['search_space'])
    self.low = np.array(info['feature_low'], np.float32)
    self.span = np.array(info['feature_span'], np.float32)
    self.members = [Scorer(len(self.low), self._member_settings(k))
                    for k in range(self.settings.ensemble_size)]
    self.optimizers = []
    for member in self.members:
      member(tf.zeros([1, len(self.low) + sum(self.space.sizes)]))  # builds the weights
      self.optimizers.append(keras.optimizers.Adam(self.settings.learning_rate))
      self.optimizers[-1].build(member.trainable_variables)
    # Compiled: eager, the 8 members' layers cost ~130 ms a call, too much for each
    # iteration of a model-assisted search (transfer/assisted.py).
    self._member_scores = tf.function(
        lambda inputs: tf.stack([member(inputs) for member in self.members]),
        input_signature=[tf.TensorSpec([None, len(self.low) + sum(self.space.sizes)],
                                       tf.float32)], autograph=False)
    self.epoch = tf.Variable(0, dtype=tf.int64)
    # Member 0 under the names of a single network's checkpoint.
    tracked = {f'{name}{f"_{k}" if k else ""}': value for k, pair in enumerate(
        zip(self.members, self.optimizers)) for name, value in zip(('model', 'optimizer'), pair)}
    self.checkpointer = checkpoints.Checkpointer(
        os.path.join(model_dir, CHECKPOINTS), tf.train.Checkpoint(epoch=self.epoch, **tracked),
        max_to_keep=2)
    self.checkpointer.restore('the value network')

  def _member_settings(self, k):
    return dataclasses.replace(self.settings, seed=self.settings.seed + k)

  def task_features(self, representation):
    """Scaled to [0, 1] over the training tasks; a new task's clipped to that range, so
    that the network is never asked to extrapolate."""
    return np.clip((np.asarray(representation, np.float32) - self.low) / self.span, 0, 1)

  def member_scores(self, representation, distributions):
    """[members, N] each member's prediction for configs given as [N, sum(sizes)]
    distributions."""
    distributions = tf.convert_to_tensor(distributions, tf.float32)
    features = tf.tile(self.task_features(representation)[None],
                       [tf.shape(distributions)[0], 1])
    return self._member_scores(tf.concat([features, distributions], axis=1))

  def predict(self, representation, distributions, pessimism=0.0):
    """Predicted accuracies [N] of configs given as [N, sum(sizes)] distributions: the
    members' mean, less `pessimism` times their standard deviation."""
    scores = self.member_scores(representation, distributions)
    predicted = tf.reduce_mean(scores, axis=0)
    if pessimism:
      predicted -= pessimism * tf.math.reduce_std(scores, axis=0)
    return predicted

  def fit(self, trials):
    """Trains to `settings.epochs`, from the last checkpoint if there is one."""
    features = np.stack([self.task_features(self.info['task_representations'][t])
                         for t in trials.tasks])
    inputs = np.concatenate([features, one_hot(trials.actions, self.space.sizes)], axis=1)
    groups = np.unique(trials.tasks, return_inverse=True)[1]

    def step_of(member, optimizer):
      @tf.function(autograph=False)
      def step(x, y, g):
        with tf.GradientTape() as tape:
          scores = member(x, training=True)
          loss = (losses.squared_error(scores, y) if self.settings.loss == 'mse' else
                  losses.pairwise_ranking_loss(scores, y, g))
        variables = member.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss
      return step

    steps = [step_of(m, o) for m, o in zip(self.members, self.optimizers)]
    size = self.settings.batch_size
    while int(self.epoch) < self.settings.epochs:
      epoch_losses = []
      for k, step in enumerate(steps):
        order = np.random.default_rng([self._member_settings(k).seed, int(self.epoch)]
                                      ).permutation(len(inputs))
        epoch_losses += [float(step(inputs[b], trials.accuracies[b], groups[b]))
                         for b in (order[i:i + size] for i in range(0, len(order), size))]
      self.epoch.assign_add(1)
      done = int(self.epoch)
      if done % self.settings.checkpoint_every == 0 or done == self.settings.epochs:
        self.checkpointer.save(done)
        logging.info('value network: epoch %d/%d, loss %.5f', done, self.settings.epochs,
                     np.mean(epoch_losses))
    return self

  def suggest(self, representation, top_k=5, ascent=None):
    """[(config, predicted accuracy)] of the top_k distinct configs the network rates
    best for a task with this representation."""
    ascent = ascent or AscentSettings()
    sizes = self.space.sizes
    rng = np.random.default_rng(ascent.seed)
    logits = tf.Variable(rng.normal(0, 1, (ascent.restarts, sum(sizes))).astype(np.float32))
    optimizer = keras.optimizers.Adam(ascent.learning_rate)
    optimizer.build([logits])

    @tf.function(autograph=False)  # eager, each step cost ~0.1 s: a suggestion took seconds
    def ascend():
      with tf.GradientTape() as tape:
        blocks = tf.split(logits, sizes, axis=1)
        objective = self.predict(representation,
                                 tf.concat([tf.nn.softmax(b) for b in blocks], axis=1),
                                 ascent.pessimism)
        loss = -tf.reduce_sum(objective + ascent.entropy_weight * losses.policy_entropy(blocks))
      optimizer.apply([tape.gradient(loss, logits)], [logits])

    for _ in range(ascent.steps):
      ascend()
    starts = np.stack([np.argmax(b, axis=1) for b in tf.split(logits, sizes, axis=1)], axis=1)
    candidates = {}
    for actions in starts:
      for neighbour in _neighbours(actions, sizes):
        config = self.space.to_config(neighbour)
        candidates.setdefault(self.space.config_hash(config), neighbour)
    actions = np.array(list(candidates.values()))
    distributions = one_hot(actions, sizes)
    scores = self.predict(representation, distributions, ascent.pessimism).numpy()
    predictions = self.predict(representation, distributions).numpy()
    order = np.argsort(-scores, kind='stable')[:top_k]
    return [(self.space.to_config(actions[k]), float(predictions[k])) for k in order]


def _neighbours(actions, sizes):
  """`actions` and every config that differs from it in one parameter."""
  yield list(actions)
  for k, size in enumerate(sizes):
    for choice in range(size):
      if choice != actions[k]:
        yield [choice if j == k else a for j, a in enumerate(actions)]


def _stored_settings(info):
  """A network stored before ensembles is one network."""
  return ValueNetworkSettings(**{'ensemble_size': 1, **info['settings']})


def fit(model_dir, run_dirs, representations, space, exclude_tasks=(), settings=None):
  """Fits (or resumes, or loads when finished) a network on the `ok` trials of `run_dirs`
  but those of `exclude_tasks`; `representations` maps every task to its representation.
  A directory holding a network of other settings or data is refused, never overwritten."""
  settings = settings or ValueNetworkSettings()
  run_dirs = [os.path.abspath(r) for r in run_dirs]
  trials = load_trials(run_dirs, space, exclude_tasks)
  tasks = sorted(set(trials.tasks))
  features = np.stack([np.asarray(representations[t], np.float32) for t in tasks])
  low, span = features.min(axis=0), np.ptp(features, axis=0)
  info = {'settings': dataclasses.asdict(settings), 'run_dirs': run_dirs, 'tasks': tasks,
          'excluded_tasks': sorted(exclude_tasks), 'num_trials': len(trials.tasks),
          'task_representations': {t: np.asarray(representations[t]).tolist() for t in tasks},
          'feature_low': low.tolist(), 'feature_span': np.where(span > 1e-6, span, 1.0).tolist(),
          'search_space': space.describe()}
  info = json.loads(json.dumps(info))  # as it reads back
  path = os.path.join(model_dir, INFO)
  if os.path.exists(path):
    with open(path) as f:
      stored = json.load(f)
    stored['settings'] = json.loads(json.dumps(dataclasses.asdict(_stored_settings(stored))))
    if stored != info:
      differences = sorted(k for k in set(stored) | set(info) if stored.get(k) != info.get(k))
      raise ValueNetworkError(f'{model_dir} holds a value network of other {differences}; '
                              f'give another directory')
  else:
    os.makedirs(model_dir, exist_ok=True)
    with open(path + '.tmp', 'w') as f:
      json.dump(info, f, indent=1)
    os.replace(path + '.tmp', path)
  return ValueNetwork(model_dir, info).fit(trials)


def load(model_dir):
  path = os.path.join(model_dir, INFO)
  if not os.path.exists(path):
    raise ValueNetworkError(f'{model_dir} holds no value network (no {INFO})')
  with open(path) as f:
    network = ValueNetwork(model_dir, json.load(f))
  if int(network.epoch) < network.settings.epochs:
    raise ValueNetworkError(f'The value network in {model_dir} is fitted to epoch '
                            f'{int(network.epoch)} of {network.settings.epochs}; fit it first')
  return network
