r"""Trains one child and prints its result record as JSON on the last line.

  python -m mnms_tf.bin.train_child --task=rt_snippets --config_json='{"embedding": "en-dim128",
      "trainable": true, "nlayers": 1, "nnodes": 100, "learning_rate": 0.1,
      "iterations": 1000, "regularization": 0.0001}' [--seed=0] [--trainer=fast|keras]

Exits 0 when the child trained, 1 when it failed (the record says why) or the input was bad.
"""
import sys

from absl import app
from absl import flags

from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.children import trainer as child
from mnms_tf import cli
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors

_TASK = cli.define(flags.DEFINE_string, 'task', None, 'Task name (see docs/data.md).')
_CONFIG_JSON = flags.DEFINE_string('config_json', None, 'The child config as a JSON object.')
_SEED = cli.define(flags.DEFINE_integer, 'seed', 0,
                   'Seed of weight initialisation and batch order.')
_TRAINER = flags.DEFINE_enum('trainer', 'fast', ['fast', 'keras'],
                             'fast: cached data, one tf.function; keras: model.fit on strings.')
cli.define_data_dir()
cli.define_gin_flags()


def main(argv):
  del argv
  data_dir = cli.data_dir()
  try:
    cli.parse_gin_flags()
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
  sys.exit(0 if result.status == result_lib.OK else 1)


if __name__ == '__main__':
  flags.mark_flags_as_required(['task', 'config_json'])
  app.run(main)
