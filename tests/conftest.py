"""Shared fixtures. Every fixture file is made here, in temporary directories."""
import csv
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

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


def _gin_text(tiny_module_path, task_path):
  return f"""
      import mnms_tf.embeddings.registry
      import mnms_tf.tasks.registry
      module_handles.handles = {{'en-dim50': '{tiny_module_path}', 'es-dim50': '{tiny_module_path}',
                                 'xx-dim4': '/nonexistent/module'}}
      tiny/FileTask.name = 'tiny'
      tiny/FileTask.path = '{task_path}'
      tiny/FileTask.text_column = 'text'
      tiny/FileTask.label_column = 'label'
      user_tasks.tasks = [@tiny/FileTask()]
  """


@pytest.fixture
def tiny_task(tmp_path, tiny_module):
  """Binds the tiny module and a 240-row task ('good' -> pos, 'bad' -> neg); returns gin text."""
  rng = np.random.default_rng(0)
  path = tmp_path / 'tiny.csv'
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['text', 'label'])
    for i in range(240):
      filler = ' '.join(rng.choice(['the', 'movie', ','], size=rng.integers(2, 6)))
      writer.writerow([f'{filler} {"good" if i % 2 else "bad"} {filler}', 'pos' if i % 2 else 'neg'])
  text = _gin_text(tiny_module[0], path)
  gin.parse_config(text)
  return text
