"""Shared fixtures. Every fixture file is made here, in temporary directories."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import gin  # pylint: disable=g-import-not-at-top
import numpy as np
import pytest

from mnms_tf.embeddings import module_builder

TINY_WORDS = ['the', 'movie', 'good', 'bad', 'canción', ',']
TINY_OOV_BUCKETS = 3


def pytest_configure(config):
  config.addinivalue_line('markers', 'integration: builds the real offline data (cached)')


@pytest.fixture(autouse=True)
def _fresh_gin():
  yield
  gin.clear_config()


@pytest.fixture
def offline(monkeypatch):
  """Treat the network as absent, whatever this machine has."""
  monkeypatch.setenv('MNMS_OFFLINE', '1')


@pytest.fixture(scope='session')
def tiny_module(tmp_path_factory):
  """(path, vectors) of a 4-dim module over TINY_WORDS plus repeats and junk tokens."""
  vectors = np.random.default_rng(0).normal(size=(len(TINY_WORDS), 4)).astype(np.float32)
  words = TINY_WORDS + ['movie', 'two words', '']  # repeats and junk are dropped
  junk = np.ones((3, 4), np.float32)
  path = str(tmp_path_factory.mktemp('modules') / 'tiny')
  module_builder.save_module(path, words, np.concatenate([vectors, junk]), TINY_OOV_BUCKETS,
                             {'name': 'tiny'})
  return path, vectors
