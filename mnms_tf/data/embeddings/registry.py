"""Embedding-module names, the handles they load from, and how the offline ones are built.

The search space names four module slots (en-dim50, en-dim128, es-dim50, es-dim128). By
default they load modules this project builds in DATA_DIR/modules; gin/paper_modules.gin
binds the same slots to the paper's TF-Hub NNLM handles for users who are online.
"""
import dataclasses
import hashlib
import os
import urllib.parse

import gin

from mnms_tf.data.embeddings import module_builder
from mnms_tf.data.embeddings import vectors as vector_sources
from mnms_tf.data import online
from mnms_tf import errors
from mnms_tf import paths

OFFLINE_HANDLES = {name: os.path.join('{data_dir}', 'modules', name)
                   for name in ('en-dim50', 'en-dim128', 'es-dim50', 'es-dim128')}


class UnknownModuleError(errors.UserError, ValueError):
  pass


class ModuleNotBuiltError(errors.UserError, FileNotFoundError):
  pass


@dataclasses.dataclass(frozen=True)
class OfflineModuleSpec:
  source: str  # 'glove' or 'e5'
  language: str
  dim: int


OFFLINE_SPECS = {
    'en-dim50': OfflineModuleSpec('glove', 'en', 50),
    'en-dim128': OfflineModuleSpec('e5', 'en', 128),
    'es-dim50': OfflineModuleSpec('e5', 'es', 50),
    'es-dim128': OfflineModuleSpec('e5', 'es', 128),
}


@gin.configurable
def module_handles(handles=None):
  """Module name -> handle: a local path (may use {data_dir}) or a TF-Hub URL."""
  return dict(handles or OFFLINE_HANDLES)


def handle_for(name, data_dir):
  handles = module_handles()
  if name not in handles:
    raise UnknownModuleError(
        f'Unknown embedding module {name!r}; known modules: {", ".join(sorted(handles))}')
  return handles[name].format(data_dir=data_dir)


def _is_url(handle):
  return urllib.parse.urlparse(handle).scheme in ('http', 'https', 'gs')


def _hub_cache_path(handle):
  from tensorflow_hub import resolver  # pylint: disable=g-import-not-at-top
  cache_dir = resolver.tfhub_cache_dir(use_temp=True)
  return os.path.join(cache_dir, hashlib.sha1(handle.encode('utf8')).hexdigest())


def resolve(handle):
  """A handle hub.load can open without hanging: fails fast when it cannot be had.

  URL handles already in the TF-Hub cache (TFHUB_CACHE_DIR) load offline; others need
  the network, which is probed for a few seconds instead of tensorflow_hub's retries.
  """
  if _is_url(handle):
    cached = _hub_cache_path(handle)
    if os.path.isdir(cached) and os.listdir(cached):
      return cached
    online.require_reachable(
        handle, f'The TF-Hub module {handle}',
        'Download it on a machine with internet (it is cached under TFHUB_CACHE_DIR) and '
        'copy the cache here, or use the offline modules (drop gin/paper_modules.gin).')
    return handle
  if not os.path.exists(os.path.join(handle, 'saved_model.pb')):
    raise ModuleNotBuiltError(
        f'No embedding module at {handle}. Build the offline modules with '
        f'`python -m mnms_tf.bin.build_data` (data_dir: {paths.default_data_dir()}).')
  return handle


def map_text_batches(fn, texts, batch_size=1024):
  """`fn` (a module or its `tokenize`) applied to consecutive batches of `texts`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for start in range(0, len(texts), batch_size):
    yield fn(tf.constant(list(texts[start:start + batch_size])))


def load(name_or_handle, data_dir=None):
  """hub.load of a module given by slot name or handle."""
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  handle = name_or_handle
  if name_or_handle in module_handles() or not (_is_url(handle) or os.sep in handle):
    handle = handle_for(name_or_handle, data_dir or paths.default_data_dir())
  return hub.load(resolve(handle))


@gin.configurable
def build_offline_module(name, data_dir, distill_vocab_size=30000, num_oov_buckets=1000):
  """Builds one offline module into DATA_DIR/modules/NAME unless already built alike.

  Returns its build info (the contents of mnms_module.json).
  """
  if name not in OFFLINE_SPECS:
    raise UnknownModuleError(
        f'No offline recipe for module {name!r}; offline modules: {", ".join(OFFLINE_SPECS)}')
  spec = OFFLINE_SPECS[name]
  recipe = dict(name=name, source=spec.source, language=spec.language,
                num_oov_buckets=num_oov_buckets, recipe_version=1)
  if spec.source == 'e5':
    # 2: a PCA that every machine computes alike (vector_sources.reduce_dimension).
    recipe.update(distill_vocab_size=distill_vocab_size, recipe_version=2)
  path = os.path.join(paths.modules_dir(data_dir), name)
  info = module_builder.read_info(path)
  if info and all(info.get(k) == v for k, v in recipe.items()):
    return info
  if spec.source == 'glove':
    words, table = vector_sources.glove_6b_50d()
  else:
    words = vector_sources.distilled_vocabulary(spec.language, distill_vocab_size)
    raw = vector_sources.e5_word_vectors(words, paths.cache_dir(data_dir, 'e5', spec.language))
    table = vector_sources.reduce_dimension(raw, spec.dim)
  return module_builder.save_module(path, words, table, num_oov_buckets, recipe)
