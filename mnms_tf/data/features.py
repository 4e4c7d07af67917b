"""What a task is like, computed once per task and cached in the data directory, and how
alike two tasks are: what warm-started transfer picks its source task by (arXiv
2205.06355 picks it by Task2Vec similarity).

`meta_features`: the train split's size, class count and balance, its texts' length, and
per embedding module the OOV rate and linear-probe accuracy that build_data computes.

`task2vec`: a Task2Vec-style embedding (Achille et al., 2019): the diagonal Fisher
information of a fixed probe network's weights after brief training on the task. Our probe
is, per module, one hidden ReLU layer over the module's frozen sentence vectors, initialised
the same for every task; only the hidden layer's Fisher is kept (as Task2Vec keeps the
feature extractor's and drops the classifier's), so that tasks with any number of classes
compare coordinate by coordinate. The Fisher is the true one (labels drawn from the probe's
own predictions, as in Task2Vec), in closed form for this network: exact, no per-example
gradients. Each module's block is scaled to unit norm, so that every module counts alike.

`similarity`: cosine of two tasks' Task2Vec embeddings (gin: Task2Vec's own normalised
cosine). `representation`: the vector the value network reads.
"""
import dataclasses
import hashlib
import json
import os

from absl import logging
import gin
import keras
import numpy as np
import tensorflow as tf

from mnms_tf.data.embeddings import registry as module_registry
from mnms_tf.data import summary as data_summary
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import paths

FEATURES_VERSION = 1
SIMILARITIES = ('cosine', 'normalized_cosine')


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ProbeSettings:
  """The Task2Vec probe: hidden width, training, and the examples the Fisher averages."""
  hidden_units: int = 32
  train_steps: int = 200
  learning_rate: float = 0.01
  num_examples: int = 2000
  seed: int = 0


def _sentence_vectors(module, texts):
  return np.concatenate([v.numpy() for v in module_registry.map_text_batches(module, texts)])


def _train_probe(vectors, labels, num_classes, settings):
  """(W1, b1, W2, b2) of the probe after `train_steps` full-batch Adam steps. W1 starts
  the same for every task of a module (seeded by the settings alone)."""
  rng = np.random.default_rng(settings.seed)
  dim, hidden = vectors.shape[1], settings.hidden_units
  weights = [tf.Variable(rng.normal(0, np.sqrt(2 / dim), (dim, hidden)).astype(np.float32)),
             tf.Variable(np.zeros(hidden, np.float32)),
             tf.Variable(rng.normal(0, np.sqrt(1 / hidden), (hidden, num_classes)).astype(
                 np.float32)),
             tf.Variable(np.zeros(num_classes, np.float32))]
  x, y = tf.constant(vectors, tf.float32), tf.constant(labels, tf.int32)
  optimizer = keras.optimizers.Adam(settings.learning_rate)

  @tf.function(autograph=False)
  def step():
    with tf.GradientTape() as tape:
      logits = tf.nn.relu(x @ weights[0] + weights[1]) @ weights[2] + weights[3]
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))

  for _ in range(settings.train_steps):
    step()
  return [w.numpy() for w in weights]


def hidden_layer_fisher(vectors, w1, b1, w2, b2):
  """Diagonal Fisher information of (W1, b1), flattened: E_x E_{y~p(.|x)} of the squared
  gradient of log p(y|x). For logits = relu(x W1 + b1) W2 + b2 the gradient w.r.t. W1 is
  outer(x, g) with g = ((e_y - p) W2^T) * [x W1 + b1 > 0], so the expectation over y is a
  weighted sum over the classes."""
  pre = vectors @ w1 + b1
  hidden = np.maximum(pre, 0.0)
  logits = hidden @ w2 + b2
  p = np.exp(logits - logits.max(axis=1, keepdims=True))
  p /= p.sum(axis=1, keepdims=True)
  num_classes = p.shape[1]
  residuals = np.eye(num_classes)[None, :, :] - p[:, None, :]  # [n, y, c]: e_y - p
  g = (residuals @ w2.T) * (pre > 0)[:, None, :]  # [n, y, hidden]
  g2 = np.einsum('ny,nyh->nh', p, g ** 2)  # expectation over y ~ p
  fisher_w1 = (vectors ** 2).T @ g2 / len(vectors)
  return np.concatenate([fisher_w1.ravel(), g2.mean(axis=0)])


def _cache_path(data_dir, kind, task_name, parts):
  key = hashlib.sha256(json.dumps([FEATURES_VERSION, parts], sort_keys=True,
                                  default=str).encode()).hexdigest()[:16]
  return paths.cache_dir(data_dir, 'task_features', f'{kind}__{task_name}__{key}.json')


def _cached(path, compute):
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  value = compute()
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path + '.tmp', 'w') as f:
    json.dump(value, f)
  os.replace(path + '.tmp', path)
  return value


def _module_key(module_name, data_dir):
  return data_summary.module_checksum(module_registry.resolve(
      module_registry.handle_for(module_name, data_dir)))


def task2vec(task_name, data_dir, modules, settings=None):
  """The task's embedding: per module, the unit-norm hidden-layer Fisher of the probe."""
  settings = settings or ProbeSettings()
  blocks = []
  for module_name in modules:
    path = _cache_path(data_dir, 'task2vec', task_name, [
        task_registry.get_task(task_name).fingerprint(data_dir),
        data_summary.split_checksums(task_name, data_dir)['train'],
        _module_key(module_name, data_dir), dataclasses.asdict(settings)])

    def compute(module_name=module_name):
      logging.info('Task2Vec: %s with %s', task_name, module_name)
      train = task_registry.load_split(task_name, 'train', data_dir)
      rows = np.random.default_rng(settings.seed).permutation(len(train))[
          :settings.num_examples]
      module = module_registry.load(module_name, data_dir)
      vectors = _sentence_vectors(module, train.texts[rows])
      num_classes = task_registry.get_task(task_name).num_classes
      weights = _train_probe(vectors, train.labels[rows], num_classes, settings)
      return hidden_layer_fisher(vectors, *weights).tolist()

    block = np.asarray(_cached(path, compute))
    blocks.append(block / max(np.linalg.norm(block), 1e-12))
  return np.concatenate(blocks)


def meta_features(task_name, data_dir, modules):
  """Plain numbers describing the task (a dict; see the module doc)."""
  train = task_registry.load_split(task_name, 'train', data_dir)
  num_classes = task_registry.get_task(task_name).num_classes
  shares = np.bincount(train.labels, minlength=num_classes) / len(train)
  entropy = -sum(s * np.log(s) for s in shares if s > 0)
  lengths = np.array([len(t.split()) for t in train.texts])
  features = {'log_train_size': float(np.log(len(train))), 'num_classes': num_classes,
              'class_balance': float(entropy / np.log(num_classes)),
              'log_mean_words': float(np.log(lengths.mean())),
              'log_median_words': float(np.log(np.median(lengths)))}
  for module_name in modules:
    module = module_registry.load(module_name, data_dir)
    handle = module_registry.handle_for(module_name, data_dir)
    local = handle if os.path.isdir(handle) else None
    stats = data_summary.module_task_stats(module_name, module, local, task_name, data_dir)
    features[f'oov_rate/{module_name}'] = stats['oov_rate'] or 0.0
    features[f'probe_accuracy/{module_name}'] = stats['probe_accuracy']
  return features


@gin.configurable
def representation(task_name, data_dir, modules, kinds=('meta',), task2vec_dims=16):
  """One vector describing the task, for the value network (value_network.py): the
  `meta_features` (sorted by name) and/or `task2vec` projected to `task2vec_dims` by a fixed
  seeded Gaussian matrix (a Johnson-Lindenstrauss projection, the same for every task)."""
  unknown = sorted(set(kinds) - {'meta', 'task2vec'})
  if unknown or not kinds:
    raise ValueError(f"representation.kinds must be a non-empty subset of ('meta', "
                     f"'task2vec'), got {list(kinds)}")
  parts = []
  if 'meta' in kinds:
    features = meta_features(task_name, data_dir, modules)
    parts.append(np.array([features[k] for k in sorted(features)], np.float64))
  if 'task2vec' in kinds:
    embedding = task2vec(task_name, data_dir, modules)
    projection = np.random.default_rng([task2vec_dims, len(embedding)]).normal(
        0, 1 / np.sqrt(task2vec_dims), (len(embedding), task2vec_dims))
    parts.append(embedding @ projection)
  return np.concatenate(parts)


def cosine(a, b):
  return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


@gin.configurable
def similarity(a, b, kind='cosine'):
  """How alike two task embeddings are, in [0, 1] for Fisher embeddings: their `cosine`,
  or Task2Vec's `normalized_cosine` (the cosine of a / (a + b) and b / (a + b), which
  discounts coordinates that are large for every task)."""
  if kind not in SIMILARITIES:
    raise ValueError(f'similarity kind must be one of {SIMILARITIES}, got {kind!r}')
  if kind == 'normalized_cosine':
    total = np.maximum(a + b, 1e-12)
    a, b = a / total, b / total
  return cosine(a, b)


class TaskFeatures:
  """The task representation and similarity service over a search space's modules: what
  searches (warm starts), `suggest`, the suite experiment and its figures all ask, so that
  each computes them alike (cached per task and module in the data directory)."""

  def __init__(self, data_dir, modules, known=None):
    """`known`: task -> {'embedding', 'representation'} stored by an earlier computation
    (a knowledge base's tasks: transfer/knowledge.py), answered without their data."""
    self.data_dir, self.modules = data_dir, sorted(modules)
    self.known = known or {}

  @classmethod
  def for_space(cls, data_dir, space, known=None):
    return cls(data_dir, space.choices.get('embedding', ()), known)

  def embedding(self, task):
    if task in self.known:
      return np.asarray(self.known[task]['embedding'])
    return task2vec(task, self.data_dir, self.modules)

  def similarity(self, task_a, task_b):
    return similarity(self.embedding(task_a), self.embedding(task_b))

  def similarities(self, tasks, others):
    """task -> {other: similarity} for each of `tasks`, as plain floats (run.json keeps them)."""
    return {task: {other: float(self.similarity(task, other)) for other in others}
            for task in tasks}

  def similarity_matrix(self, tasks):
    """[len(tasks), len(tasks)] similarities."""
    embeddings = [self.embedding(t) for t in tasks]
    return np.array([[similarity(a, b) for b in embeddings] for a in embeddings])

  def representation(self, task):
    """`representation` (gin: its kinds) of the task, for the value network."""
    if task in self.known:
      return np.asarray(self.known[task]['representation'])
    return representation(task, self.data_dir, self.modules)

  def stored(self, tasks):
    """What `known` holds for `tasks`, computed where it is not known."""
    return {t: {'embedding': self.embedding(t).tolist(),
                'representation': self.representation(t).tolist()} for t in tasks}
