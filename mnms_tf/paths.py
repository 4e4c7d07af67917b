"""Where generated data lives.

Data is built outside the clone so that every clone, test run and CI run on a machine
shares one cache; `MNMS_DATA_DIR` moves it.
"""
import os

DATA_DIR_ENV = 'MNMS_DATA_DIR'


def default_data_dir():
  return os.environ.get(DATA_DIR_ENV) or os.path.join(
      os.path.expanduser('~'), '.cache', 'mnms_tf')


def tfds_dir(data_dir):
  return os.path.join(data_dir, 'tfds')


def downloads_dir(data_dir):
  return os.path.join(data_dir, 'downloads')


def modules_dir(data_dir):
  return os.path.join(data_dir, 'modules')


def cache_dir(data_dir, *parts):
  return os.path.join(data_dir, 'cache', *parts)
