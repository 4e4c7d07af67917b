"""The run directory: the single record of one search, and the protocol to resume it.

  run.json               what defines the run: tasks, seed, search space, the controller's
                         settings, the evaluator's (child trainer, reward exponent, module
                         handles, data checksums). Written once; a resume whose settings
                         differ is refused with every difference listed. Budgets and the
                         number of workers are not part of it.
  config.gin             the gin config of the first start (what trained the children;
                         export_best parses it); operative_config.gin, what the
                         configurables used, workers' included
  lock                   held (flock) by the process running the search; names its PID
  trials.sqlite          every child evaluated (mnms_tf/store.py)
  checkpoints/           `Checkpointer`: one per iteration, the newest 3 kept
  tensorboard/           per-task and controller scalars

A controller, the search space and the tasks restore from run.json alone
(`restore_controller`), without reading or changing the caller's gin config.
"""
import contextlib
import fcntl
import json
import os

from absl import logging
import gin
import tensorflow as tf

from mnms_tf import controller as controller_lib
from mnms_tf import errors
from mnms_tf import search_space
from mnms_tf import store as store_lib

RUN_INFO, CONFIG_GIN, OPERATIVE_GIN, LOCK = 'run.json', 'config.gin', 'operative_config.gin', 'lock'
CHECKPOINTS, TENSORBOARD = 'checkpoints', 'tensorboard'
FORMAT = 2  # of run.json; 1 (before 2026-11-26) recorded only tasks, controller kind and seed
DERIVED = ('controller_tasks', 'task_similarities',  # recorded, but follow from the rest
           'initial_config_list')


class RunDirError(errors.UserError, ValueError):
  pass


class CheckpointError(errors.UserError, RuntimeError):
  pass


def read_info(root_dir):
  path = os.path.join(root_dir, RUN_INFO)
  if not os.path.exists(path):
    raise RunDirError(f'{root_dir} is not a search run directory (no {RUN_INFO})')
  with open(path) as f:
    info = json.load(f)
  if info.get('format') != FORMAT:
    raise RunDirError(f'{path} was written by an older version of mnms_tf (format '
                      f'{info.get("format", 1)}, this version reads {FORMAT}); start the '
                      f'search in a new --root_dir')
  return info


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

  def info(self):
    """The stored run.json, or None for a new run."""
    return read_info(self.root_dir) if os.path.exists(self.path(RUN_INFO)) else None

  def check_resume(self, stored, wanted):
    """RunDirError listing every setting in which `wanted` differs from `stored`."""
    found = differences(stored, wanted)
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
    _write_atomically(self.path(CONFIG_GIN), gin.config_str())
    _write_atomically(self.path(RUN_INFO), json.dumps(info, indent=2) + '\n')
    return info

  def write_operative_config(self):
    _write_atomically(self.path(OPERATIVE_GIN), gin.operative_config_str())


class Checkpointer:
  """The checkpoint protocol: checkpoint number = iterations done; the newest
  `max_to_keep` kept; restore falls back to an older one when the newest is unreadable."""

  def __init__(self, directory, checkpoint, max_to_keep=3):
    self.checkpoint = checkpoint
    self.manager = tf.train.CheckpointManager(checkpoint, directory, max_to_keep=max_to_keep)

  def save(self, iteration):
    self.manager.save(checkpoint_number=iteration)

  def restore(self, what):
    """Restores the newest readable checkpoint and returns its path (None if there is none)."""
    failures = []
    for path in reversed(self.manager.checkpoints):
      try:
        self.checkpoint.read(path).expect_partial()
      except Exception as e:  # pylint: disable=broad-except  # TF's reader raises many types
        failures.append(f'{path}: {type(e).__name__}: {errors.one_line(e)}')
        logging.warning('Cannot restore %s from %s (%s); trying the previous checkpoint',
                        what, path, failures[-1])
        continue
      if failures:
        logging.warning('Restored %s from the older checkpoint %s', what, path)
      return path
    if failures:
      raise CheckpointError(
          f'Cannot restore {what}: no checkpoint is readable ({"; ".join(failures)}). The '
          f'trial store is untouched. Delete {self.manager.directory}: '
          f'the search then rebuilds the controller by replaying its stored children (none '
          f'is trained again) and continues.')
    return None


def controller_checkpoint(controller, iteration, sampled_ahead=None):
  """`sampled_ahead`: the runner's iterations sampled but not yet learned from."""
  parts = {'sampled_ahead': sampled_ahead} if sampled_ahead is not None else {}
  return tf.train.Checkpoint(controller=controller.checkpoint(), iteration=iteration, **parts)


def restore_controller(root_dir):
  """The newest checkpointed controller of a run, built from its run.json alone."""
  info = read_info(root_dir)
  factory = controller_lib.ControllerFactory.from_description(info['controller'])
  controller = factory(info['controller_tasks'], restore_search_space(info).sizes, info['seed'])
  iteration = tf.Variable(0, dtype=tf.int64)
  checkpointer = Checkpointer(os.path.join(root_dir, CHECKPOINTS),
                              controller_checkpoint(controller, iteration))
  if checkpointer.restore(f'the controller of {root_dir}') is None:
    raise RunDirError(f'{root_dir} has no checkpoint yet')
  return controller
