"""The checkpoint protocol of a search: what a checkpoint holds, how it is numbered, kept and
restored. It imports no controller: anything with a `checkpoint()` can be saved.
"""
import os
import time

from absl import logging
from google.protobuf import text_format
import tensorflow as tf

from mnms_tf import errors


class CheckpointError(errors.UserError, RuntimeError):
  pass


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


def keep_newest(directory):
  """Deletes all but the newest checkpoint in `directory` (a finished run that is shipped:
  only the newest is restored)."""
  state = tf.train.get_checkpoint_state(directory)
  if state is None:
    return
  newest = state.model_checkpoint_path
  stamps = dict(zip(state.all_model_checkpoint_paths, state.all_model_checkpoint_timestamps))
  for path in state.all_model_checkpoint_paths:
    if path != newest:
      for file in tf.io.gfile.glob(f'{path}.*'):
        tf.io.gfile.remove(file)
  # The state file CheckpointManager reads (it lists a checkpoint with its timestamp),
  # naming the newest alone and relative as CheckpointManager writes it, since the run
  # may move: TF's own writer of it is deprecated and writes paths absolute.
  name = os.path.basename(newest)
  state.model_checkpoint_path = name
  del state.all_model_checkpoint_paths[:], state.all_model_checkpoint_timestamps[:]
  state.all_model_checkpoint_paths.append(name)
  state.all_model_checkpoint_timestamps.append(stamps.get(newest, time.time()))
  with tf.io.gfile.GFile(os.path.join(directory, 'checkpoint'), 'w') as f:
    f.write(text_format.MessageToString(state))


def controller_checkpoint(controller, iteration, sampled_ahead=None):
  """`sampled_ahead`: the runner's iterations sampled but not yet learned from."""
  parts = {'sampled_ahead': sampled_ahead} if sampled_ahead is not None else {}
  return tf.train.Checkpoint(controller=controller.checkpoint(), iteration=iteration, **parts)
