"""What build_data reports: task sizes and classes; module sizes, OOV rates and probes;
checksums of every task split and module.

Checksums are of contents (texts and labels; vocabulary and vector values), not of
files, so two builds of the same data agree whatever their file bytes; run.json records
them, so two runs that did not use the same data show it.

The linear probe is scikit-learn's logistic regression (C=1, standardised features) on
frozen sentence vectors of the training split, scored on the validation split: a quick
measure of how much a module's vectors say about a task before any child is trained.
Per (module, task) results are cached in DATA_DIR/cache/summary, keyed by the module's
build info and the task's fingerprint, so a second build_data run is fast.
"""
import functools
import hashlib
import json
import os

import numpy as np
from absl import logging

from mnms_tf.data.embeddings import module_builder
from mnms_tf.data.embeddings import registry as module_registry
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import paths

PROBE_VERSION = 1


def task_summary(name, data_dir):
  task = task_registry.get_task(name)
  splits, class_counts = {}, {}
  for split in task_registry.SPLITS:
    data = task_registry.load_split(name, split, data_dir)
    splits[split] = len(data)
    class_counts[split] = np.bincount(data.labels, minlength=task.num_classes).tolist()
  return dict(splits=splits, num_classes=task.num_classes, language=task.language,
              class_counts=class_counts, checksums=split_checksums(name, data_dir),
              **task.skipped(data_dir))


def split_checksums(name, data_dir):
  """split -> sha256 (16 hex digits) of a task split's texts and labels."""
  checksums = {}
  for split in task_registry.SPLITS:
    data = task_registry.load_split(name, split, data_dir)
    digest = hashlib.sha256('\0'.join(data.texts).encode())
    digest.update(np.asarray(data.labels, np.int64).tobytes())
    checksums[split] = digest.hexdigest()[:16]
  return checksums


def module_checksum(handle):
  """sha256 (16 hex digits) of a local module's assets and variable values; a URL handle,
  whose contents TF-Hub versions, stands for itself."""
  if not os.path.isdir(handle):
    return handle
  index = os.path.join(handle, 'variables', 'variables.index')
  return _module_checksum(handle, os.path.getmtime(index) if os.path.exists(index) else 0)


@functools.lru_cache(maxsize=None)
def _module_checksum(path, unused_mtime):  # a rebuilt module has a new mtime
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  digest = hashlib.sha256()
  assets = os.path.join(path, 'assets')
  for name in sorted(os.listdir(assets)) if os.path.isdir(assets) else ():
    with open(os.path.join(assets, name), 'rb') as f:
      digest.update(f.read())
  reader = tf.train.load_checkpoint(os.path.join(path, 'variables', 'variables'))
  for name in sorted(reader.get_variable_to_shape_map()):
    if not name.startswith('_CHECKPOINTABLE_OBJECT_GRAPH'):
      digest.update(name.encode())
      digest.update(reader.get_tensor(name).tobytes())
  return digest.hexdigest()[:16]


def _embed(module, texts):
  return np.concatenate([v.numpy() for v in module_registry.map_text_batches(module, texts)])


def oov_rate(module, vocab_size, texts):
  """Fraction of the module's tokens of `texts` that are not in its vocabulary."""
  total = oov = 0
  for batch in module_registry.map_text_batches(module.tokenize, texts):
    ids = batch.flat_values.numpy()
    total += ids.size
    oov += int(np.sum(ids >= vocab_size))
  return oov / max(total, 1)


def probe_accuracy(module, train, validation, seed=0):
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  from sklearn.pipeline import make_pipeline  # pylint: disable=g-import-not-at-top
  from sklearn.preprocessing import StandardScaler  # pylint: disable=g-import-not-at-top
  probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000,
                                                             random_state=seed))
  probe.fit(_embed(module, train.texts), train.labels)
  return float(probe.score(_embed(module, validation.texts), validation.labels))


def module_task_stats(module_name, module, module_path, task_name, data_dir):
  """{'oov_rate', 'probe_accuracy'} of a module on a task, cached on disk."""
  info = module_builder.read_info(module_path) if module_path else None
  key = hashlib.sha256(json.dumps(
      [info, task_registry.get_task(task_name).fingerprint(data_dir), PROBE_VERSION],
      sort_keys=True).encode()).hexdigest()[:16]
  cache = paths.cache_dir(data_dir, 'summary', f'{module_name}__{task_name}__{key}.json')
  if info and os.path.exists(cache):
    with open(cache) as f:
      return json.load(f)
  logging.info('Probing module %s on task %s', module_name, task_name)
  splits = {s: task_registry.load_split(task_name, s, data_dir) for s in task_registry.SPLITS}
  stats = {'oov_rate': None}
  if info and hasattr(module, 'tokenize'):
    texts = np.concatenate([splits[s].texts for s in task_registry.SPLITS])
    stats['oov_rate'] = oov_rate(module, info['vocab_size'], texts)
  stats['probe_accuracy'] = probe_accuracy(module, splits['train'], splits['validation'])
  if info:
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    with open(cache, 'w') as f:
      json.dump(stats, f)
  return stats


def checksums(tasks, modules, data_dir):
  """{'tasks': task -> split checksums, 'modules': slot -> checksum}: what run.json records
  of the data a run's children used, and what export_best compares today's data with."""
  return {'tasks': {t: split_checksums(t, data_dir) for t in tasks},
          'modules': {m: module_checksum(module_registry.resolve(
              module_registry.handle_for(m, data_dir))) for m in modules}}
