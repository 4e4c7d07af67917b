"""Where generated data lives.

Data is built outside the clone so that every clone, test run and CI run on a machine
shares one cache; `MNMS_DATA_DIR` moves it.
"""
import contextlib
import fcntl
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


@contextlib.contextmanager
def build_lock(data_dir):
  """Held while building into data_dir: a second build (another shell, another test
  worker) waits for the first and then finds everything built, instead of both writing
  the same files."""
  os.makedirs(data_dir, exist_ok=True)
  with open(os.path.join(data_dir, '.build.lock'), 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
    yield
