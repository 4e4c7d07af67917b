r"""Trains one child and prints its result record as JSON on the last line.

  python -m mnms_tf.bin.train_child --task=rt_snippets --config_json='{"embedding": "en-dim128",
      "trainable": true, "nlayers": 1, "nnodes": 100, "learning_rate": 0.1,
      "iterations": 1000, "regularization": 0.0001}' [--seed=0] [--trainer=fast|keras]

Exits 0 when the child trained, 1 when it failed (the record says why) or the input was bad.
"""
import os
import sys

from absl import app
from absl import flags

from mnms_tf import child
from mnms_tf import configs
from mnms_tf import errors
from mnms_tf import paths
from mnms_tf import search_space
from mnms_tf.tasks import registry as task_registry

_TASK = flags.DEFINE_string('task', None, 'Task name (see the README).', required=True)
_CONFIG_JSON = flags.DEFINE_string('config_json', None, 'The child config as a JSON object.',
                                   required=True)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of weight initialisation and batch order.')
_TRAINER = flags.DEFINE_enum('trainer', 'fast', ['fast', 'keras'],
                             'fast: cached data, one tf.function; keras: model.fit on strings.')
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'Data directory (default: $MNMS_DATA_DIR '
                                'or ~/.cache/mnms_tf).')
configs.define_gin_flags()


def main(argv):
  del argv
  data_dir = os.path.abspath(_DATA_DIR.value or paths.default_data_dir())
  try:
    configs.parse_gin_flags()
    space = search_space.SearchSpace()
    config = search_space.from_json(_CONFIG_JSON.value, space)
    task_registry.check_task(_TASK.value, data_dir)  # bad data: refused, nothing trained
  except errors.UserError as e:
    errors.exit_with('train_child', e)
  if _TRAINER.value == 'fast':
    result = child.ChildTrainer(data_dir=data_dir, space=space).train(_TASK.value, config,
                                                                      _SEED.value)
  else:
    result = child.train_keras(_TASK.value, config, _SEED.value, data_dir=data_dir, space=space)
  print(f'{result.status}: {result.task} val {result.val_accuracy:.4f} test '
        f'{result.test_accuracy:.4f} reward {result.reward:.4f} in {result.total_seconds:.1f}s '
        f'({result.examples_per_second:.0f} examples/s) {result.message}')
  print(result.to_json())
  sys.exit(0 if result.status == child.OK else 1)


if __name__ == '__main__':
  app.run(main)
