"""What a run's record rebuilds without reading or changing the caller's gin config: its
controller from run.json and the newest checkpoint (figures, analysis, transfer) and its
child trainer (export_best, suggest).
"""
import os

import tensorflow as tf

from mnms_tf.children import trainer as child
from mnms_tf.controllers import factory as controller_lib
from mnms_tf.search import checkpoints
from mnms_tf.search import run_dir as run_dir_lib


def restore_controller(root_dir):
  """The newest checkpointed controller of a run, built from its run.json alone."""
  info = run_dir_lib.read_info(root_dir)
  factory = controller_lib.ControllerFactory.from_description(info['controller'])
  controller = factory(info['controller_tasks'], run_dir_lib.restore_search_space(info),
                       info['seed'])
  iteration = tf.Variable(0, dtype=tf.int64)
  checkpointer = checkpoints.Checkpointer(os.path.join(root_dir, run_dir_lib.CHECKPOINTS),
                                          checkpoints.controller_checkpoint(controller, iteration))
  if checkpointer.restore(f'the controller of {root_dir}') is None:
    raise run_dir_lib.RunDirError(f'{root_dir} has no checkpoint yet')
  return controller


def child_trainer(info, data_dir):
  """The child trainer that trained a run's children (run.json `info`, as read_info gives
  it), for retraining them: export_best and suggest."""
  return child.ChildTrainer(data_dir=data_dir, space=run_dir_lib.restore_search_space(info),
                            **info['evaluator']['trainer'])
