"""Hub-format modules, the Keras layer, the handle registry and offline module builds."""
import os

import gin
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import threadpoolctl

from conftest import TINY_OOV_BUCKETS, TINY_WORDS
from mnms_tf.data import online
from mnms_tf import configs
from mnms_tf.data.embeddings import layer as layer_lib
from mnms_tf.data.embeddings import module_builder
from mnms_tf.data.embeddings import registry
from mnms_tf.data.embeddings import vectors as vector_sources


def _row(word, vectors):
  return vectors[TINY_WORDS.index(word)]


def test_module_loads_with_hub_and_combines_with_sqrtn(tiny_module):
  path, vectors = tiny_module
  module = hub.load(path)
  out = module(tf.constant(['The GOOD movie,', 'canción', '', 'zzz unknown'])).numpy()
  expected = (_row('the', vectors) + _row('good', vectors) + _row('movie', vectors) +
              _row(',', vectors)) / 2.0
  np.testing.assert_allclose(out[0], expected, rtol=1e-5)
  np.testing.assert_allclose(out[1], _row('canción', vectors), rtol=1e-6)
  np.testing.assert_array_equal(out[2:], 0.0)  # empty text; OOV buckets start at zero
  assert module_builder.read_info(path)['vocab_size'] == len(TINY_WORDS)


def test_tokenize_lowercases_splits_punctuation_and_hashes_oov(tiny_module):
  module = hub.load(tiny_module[0])
  ids = module.tokenize(tf.constant(['Movie,good!', 'CANCIÓN'])).to_list()
  assert ids[0][:3] == [TINY_WORDS.index('movie'), TINY_WORDS.index(','),
                        TINY_WORDS.index('good')]
  assert len(TINY_WORDS) <= ids[0][3] < len(TINY_WORDS) + TINY_OOV_BUCKETS  # '!' is OOV
  assert ids[1] == [TINY_WORDS.index('canción')]


def test_clean_vocabulary_drops_repeats_and_junk():
  words, rows = module_builder.clean_vocabulary(['a', 'b', 'a', '', 'c d', ' e'],
                                                np.arange(6)[:, None])
  assert words == ['a', 'b'] and rows[:, 0].tolist() == [0, 1]


def _train(layer, steps=20):
  inputs = keras.Input((), dtype='string')
  model = keras.Model(inputs, keras.layers.Dense(2, activation='softmax')(layer(inputs)))
  model.compile(keras.optimizers.Adagrad(0.5), 'sparse_categorical_crossentropy')
  texts = np.array(['good movie', 'bad movie'] * 10)
  data = tf.data.Dataset.from_tensor_slices((texts, np.array([1, 0] * 10))).batch(4).repeat()
  model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
  return model


@pytest.mark.parametrize('trainable', [False, True])
def test_keras_layer_frozen_or_fine_tuned(tiny_module, trainable):
  layer = layer_lib.HubTextEmbedding(tiny_module[0], trainable=trainable)
  before = layer.module.embeddings.numpy().copy()
  model = _train(layer)
  changed = np.abs(layer.module.embeddings.numpy() - before).sum(axis=1) > 0
  names = [w.name for w in model.trainable_weights]
  if trainable:
    assert 'embeddings' in names
    assert set(np.flatnonzero(changed)) == {TINY_WORDS.index(w) for w in ('good', 'bad', 'movie')}
  else:
    assert 'embeddings' not in names and not changed.any()


def test_fine_tuned_table_gets_sparse_gradients(tiny_module):
  layer = layer_lib.HubTextEmbedding(tiny_module[0], trainable=True)
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(tf.constant(['good movie'])))
  gradient, = tape.gradient(loss, layer.trainable_weights)
  assert isinstance(gradient, tf.IndexedSlices)
  assert sorted(gradient.indices.numpy()) == sorted(
      [TINY_WORDS.index('good'), TINY_WORDS.index('movie')])


def test_unknown_module_lists_known_ones():
  with pytest.raises(registry.UnknownModuleError, match='en-dim128.*es-dim50'):
    registry.load('fr-dim50')


def test_missing_module_names_build_data(tmp_path):
  with pytest.raises(registry.ModuleNotBuiltError, match='build_data'):
    registry.load('es-dim50', str(tmp_path))


def test_paper_config_maps_slots_to_nnlm_and_fails_fast_offline(offline, network_attempts,
                                                                 tmp_path, monkeypatch):
  monkeypatch.setenv('TFHUB_CACHE_DIR', str(tmp_path))
  configs.parse(['paper_modules.gin'])
  assert registry.handle_for('es-dim128', '/x') == 'https://tfhub.dev/google/nnlm-es-dim128/2'
  with pytest.raises(online.OfflineError, match='nnlm-es-dim128.*TFHUB_CACHE_DIR'):
    layer_lib.HubTextEmbedding('es-dim128')
  assert network_attempts == []  # refused before tensorflow_hub, which would retry


def test_cached_hub_url_loads_offline(offline, tiny_module, tmp_path, monkeypatch):
  monkeypatch.setenv('TFHUB_CACHE_DIR', str(tmp_path))
  handle = 'https://tfhub.dev/google/nnlm-en-dim50/2'
  os.symlink(tiny_module[0], registry._hub_cache_path(handle))  # pylint: disable=protected-access
  layer = layer_lib.HubTextEmbedding(handle)
  assert layer(tf.constant(['good'])).shape == (1, 4)


def test_malformed_gin_binding_is_a_specific_error():
  with pytest.raises(configs.GinConfigError, match='module_handle.handles'):
    configs.parse([], ['module_handle.handles = {'])


def test_reduce_dimension_is_pca_with_unit_mean_norm_the_same_for_any_thread_count():
  rng = np.random.default_rng(1)
  raw = (rng.normal(size=(3000, 64)) * np.linspace(3, 0.1, 64)).astype(np.float32)
  reduced = vector_sources.reduce_dimension(raw, 5)
  assert reduced.shape == (3000, 5)
  assert np.linalg.norm(reduced, axis=1).mean() == pytest.approx(1.0, rel=1e-3)
  # the principal subspace, each component's sign fixed (up to the rounding grid)
  centered = raw - raw.mean(axis=0)
  top = np.linalg.svd(centered, full_matrices=False)[2][:5].T
  top *= np.sign(top[np.abs(top).argmax(axis=0), np.arange(5)])
  expected = centered @ top
  expected /= np.linalg.norm(expected, axis=1).mean()
  np.testing.assert_allclose(reduced, expected, atol=2 * vector_sources.GRID)
  # what a machine with another BLAS thread count (or kernel) computes: the same bytes
  with threadpoolctl.threadpool_limits(2):
    again = vector_sources.reduce_dimension(raw, 5)
  assert again.tobytes() == reduced.tobytes()
  assert np.array_equal(np.round(reduced / vector_sources.GRID) * vector_sources.GRID, reduced)


def test_offline_module_build_is_idempotent_and_follows_its_recipe(tmp_path, monkeypatch):
  calls = []
  words = [f'palabra{i}' for i in range(80)]
  monkeypatch.setattr(vector_sources, 'frequent_words', lambda language, count: words[:count])

  def fake_e5(batch, cache_dir):
    calls.append(len(batch))
    return np.random.default_rng(len(batch)).normal(size=(len(batch), 384)).astype(np.float32)

  monkeypatch.setattr(vector_sources, 'e5_word_vectors', fake_e5)
  gin.bind_parameter('build_offline_module.distill_vocab_size', 60)
  info = registry.build_offline_module('es-dim50', str(tmp_path))
  assert (info['dim'], info['vocab_size'], info['language']) == (50, 60 + len(vector_sources.PUNCTUATION), 'es')
  path = os.path.join(tmp_path, 'modules', 'es-dim50')
  stamp = os.path.getmtime(os.path.join(path, 'saved_model.pb'))
  registry.build_offline_module('es-dim50', str(tmp_path))
  assert calls == [info['vocab_size']] and os.path.getmtime(os.path.join(path, 'saved_model.pb')) == stamp
  gin.bind_parameter('build_offline_module.num_oov_buckets', 7)
  assert registry.build_offline_module('es-dim50', str(tmp_path))['num_oov_buckets'] == 7
  assert calls == [info['vocab_size']] * 2
  assert hub.load(path)(tf.constant(['palabra3'])).shape == (1, 50)
