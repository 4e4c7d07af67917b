"""The run directory: the single record of one search, and the protocol to resume it.

  run.json               what defines the run: tasks, seed, search space, the controller's
                         settings, the evaluator's (child trainer, reward exponent, module
                         handles, data checksums). Written once; a resume whose settings
                         differ is refused with every difference listed. Budgets and the
                         number of workers are not part of it.
  config.gin             the gin config of the first start (what trained the children;
                         export_best and suggest parse it: `parse_config_gin`);
                         operative_config.gin, what the configurables used, workers' included
  lock                   held (flock) by the process running the search; names its PID
  trials.sqlite          every child evaluated (mnms_tf/search/store.py)
  checkpoints/           mnms_tf/search/checkpoints.py: one per iteration, the newest 3 kept
  tensorboard/           per-task and controller scalars (mnms_tf/search/summaries.py)

This module owns run.json's schema: `read_info` applies the migrations of older runs
(settings added since, with the value that reproduces what those runs did), so every
reader (the search, export_best, suggest, the figures) sees the same record. A run's
controller restores from run.json alone (mnms_tf/search/restore.py).
"""
import contextlib
import fcntl
import json
import os
import re
import time

import gin

from mnms_tf.children import space as search_space
from mnms_tf import configs
from mnms_tf import errors
from mnms_tf.search import store as store_lib

RUN_INFO, CONFIG_GIN, OPERATIVE_GIN, LOCK = 'run.json', 'config.gin', 'operative_config.gin', 'lock'
CHECKPOINTS, TENSORBOARD = 'checkpoints', 'tensorboard'
FORMAT = 2  # of run.json; 1 (before 2026-11-26) recorded only tasks, controller kind and seed
DERIVED = ('controller_tasks', 'task_similarities',  # recorded, but follow from the rest
           'initial_config_list', 'task_representations', 'architecture_sources')

# Settings added to run.json after format 2, with the value that reproduces what a run
# written before them did.
_ADDED_SETTINGS = {
    'pipelined': False,  # runs from before pipelining were synchronous
    'task_embedding_init': 'random',  # and from before warm starts
    'task_embedding_temperature': 0.1,
    'initial_configs': None,
    'num_initial_configs': 4,
    'value_network': None,
    'configs_from': None,
    'portfolio': None,
    'retrain_slots': 0,
    'max_draws': 4,
    'candidates_per_slot': 1,
    'acquisition': None,
    'task_representations': None,
    'architecture_init': None,
    'architectures': None,
    'hyperparameters_from': None,
}
_ADDED_TRAINER_SETTINGS = {
    'whole_vocabulary_share': None,  # children from before it never trained it
}
# The peers' settings, recorded since 2026-12-02; runs before used their defaults then.
_PEER_SETTINGS_BEFORE = {
    'tpe': {'constant_liar': True, 'n_startup_trials': 10, 'multivariate': False},
    'keras_tuner': {'num_initial_points': None, 'alpha': 1e-4, 'beta': 2.6},
}

# Modules that moved when the package was cut into subpackages (2026-12-02): a run's
# config.gin imports them by their old paths.
MOVED_MODULES = {
    'mnms_tf.agent': 'mnms_tf.controllers.agent',
    'mnms_tf.controller': 'mnms_tf.controllers.factory',
    'mnms_tf.peers': 'mnms_tf.controllers.peers',
    'mnms_tf.random_search': 'mnms_tf.controllers.random_search',
    'mnms_tf.runner': 'mnms_tf.search.runner',
    'mnms_tf.search_space': 'mnms_tf.children.space',
    'mnms_tf.child': 'mnms_tf.children.trainer',
    'mnms_tf.optimizers': 'mnms_tf.children.optimizers',
    'mnms_tf.baselines': 'mnms_tf.children.baselines',
    'mnms_tf.task_features': 'mnms_tf.data.features',
    'mnms_tf.tasks.registry': 'mnms_tf.data.tasks.registry',
    'mnms_tf.embeddings.registry': 'mnms_tf.data.embeddings.registry',
    'mnms_tf.value_network': 'mnms_tf.transfer.value_network',
    'mnms_tf.suite_experiment': 'mnms_tf.experiments.suite',
    'mnms_tf.workers': 'mnms_tf.evaluation.workers',
    'mnms_tf.ray_pool': 'mnms_tf.evaluation.ray_pool',
}


class RunDirError(errors.UserError, ValueError):
  pass


def migrate(info):
  """run.json as this version writes it, from what any format-2 version wrote."""
  for key, value in _ADDED_SETTINGS.items():
    info.setdefault(key, value)
  info['controller'].setdefault('peer', _PEER_SETTINGS_BEFORE.get(info['controller']['kind']))
  trainer = info['evaluator'].get('trainer')
  if trainer is not None:
    for key, value in _ADDED_TRAINER_SETTINGS.items():
      trainer.setdefault(key, value)
  return info


def read_info(root_dir):
  """The run's run.json, migrated (`migrate`)."""
  path = os.path.join(root_dir, RUN_INFO)
  if not os.path.exists(path):
    raise RunDirError(f'{root_dir} is not a search run directory (no {RUN_INFO})')
  with open(path) as f:
    info = json.load(f)
  if info.get('format') != FORMAT:
    raise RunDirError(f'{path} was written by an older version of mnms_tf (format '
                      f'{info.get("format", 1)}, this version reads {FORMAT}); start the '
                      f'search in a new --root_dir')
  return migrate(info)


def migrate_gin(text):
  """A run's gin config with the imports of moved modules renamed."""
  def renamed(match):
    return f'{match.group(1)}{MOVED_MODULES.get(match.group(2), match.group(2))}'
  return re.sub(r'^(\s*import\s+)([\w.]+)', renamed, text, flags=re.M)


def parse_config_gin(root_dir):
  """Parses the run's config.gin (migrated: `migrate_gin`): the tasks and modules its
  children used, for retraining them."""
  with open(os.path.join(root_dir, CONFIG_GIN)) as f:
    text = migrate_gin(f.read())
  try:
    gin.parse_config(text)
  except Exception as e:  # gin raises many types
    raise RunDirError(f'Cannot parse {os.path.join(root_dir, CONFIG_GIN)}: '
                      f'{errors.one_line(e)}') from e


def differences(stored, wanted, prefix=''):
  """Every leaf where two run descriptions differ, as 'key.path: stored X, now Y'."""
  found = []
  for key in sorted(set(stored) | set(wanted)):
    if not prefix and key in DERIVED:
      continue
    old, new = stored.get(key), wanted.get(key)
    if isinstance(old, dict) and isinstance(new, dict):
      found += differences(old, new, f'{prefix}{key}.')
    elif old != new:
      found.append(f'{prefix}{key}: stored {old!r}, now {new!r}')
  return found


def _write_atomically(path, text):
  with open(path + '.tmp', 'w') as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())
  os.replace(path + '.tmp', path)


def restore_search_space(info):
  return search_space.SearchSpace(**info['search_space'])


class RunDir:
  """One run directory: its layout, run.json, lock and operative config."""

  def __init__(self, root_dir):
    self.root_dir = root_dir

  def path(self, *parts):
    return os.path.join(self.root_dir, *parts)

  @contextlib.contextmanager
  def lock(self):
    """Exclusive use of the directory. The kernel drops a flock when its process dies,
    even by SIGKILL, so a stale lock file never blocks the next start."""
    os.makedirs(self.root_dir, exist_ok=True)
    with open(self.path(LOCK), 'a+') as f:
      try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or 'unknown'
        raise RunDirError(f'{self.root_dir} is in use by another search (PID {holder}); '
                          f'wait for it or stop it first') from None
      f.seek(0)
      f.truncate()
      f.write(f'{os.getpid()}\n')
      f.flush()
      try:
        yield
      finally:
        f.truncate(0)
        fcntl.flock(f, fcntl.LOCK_UN)

  def wait_until_free(self, seconds):
    """Whether no process holds the lock, waiting up to `seconds` for it to be let go (a
    search retried elsewhere may start before its predecessor's lock is gone)."""
    if not os.path.exists(self.path(LOCK)):
      return True
    deadline = time.monotonic() + seconds
    with open(self.path(LOCK)) as f:
      while True:
        try:
          fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
          return True  # closing the file lets go of this shared lock
        except BlockingIOError:
          if time.monotonic() >= deadline:
            return False
          time.sleep(1.0)

  def info(self):
    """The stored run.json, or None for a new run."""
    return read_info(self.root_dir) if os.path.exists(self.path(RUN_INFO)) else None

  def check_resume(self, stored, wanted):
    """RunDirError listing every setting in which `wanted` differs from `stored`."""
    found = differences(stored, wanted)
    order = [list(info['search_space']['choices']) for info in (stored, wanted)]
    if order[0] != order[1]:  # the parameters' order is the controller's action order
      found.append(f'search_space parameter order: stored {order[0]}, now {order[1]}')
    if found:
      raise RunDirError(
          f'{self.root_dir} holds a run with other settings ({"; ".join(found)}). Resume it '
          f'with its own settings, or start this search in a new --root_dir; nothing was '
          f'changed.')

  def create(self, info):
    """Records a new run: run.json and the gin config in force; returns `info`."""
    if (os.path.exists(self.path(CHECKPOINTS)) or
        os.path.exists(self.path(store_lib.FILENAME))):
      raise RunDirError(f'{self.root_dir} has checkpoints or trials but no {RUN_INFO}: not a '
                        f'run this version can resume; use a new --root_dir')
    _write_atomically(self.path(CONFIG_GIN), configs.config_str())
    _write_atomically(self.path(RUN_INFO), json.dumps(info, indent=2) + '\n')
    return info

  def write_operative_config(self):
    _write_atomically(self.path(OPERATIVE_GIN), configs.config_str(operative=True))
