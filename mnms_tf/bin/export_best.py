r"""Retrains the config a search deploys for a task and exports it as a SavedModel on raw
strings.

  python -m mnms_tf.bin.export_best --root_dir=runs/multitask --task=rt_snippets \
      --output=exports/rt_snippets [--deploy_rule=best_draw|best_mean|shrunk_mean] \
      [--gin_bindings=...]

The deployed config, the retraining and the SavedModel (which answers with the task's label
names): mnms_tf/search/export.py. The run's own config.gin (its first start's: the tasks and
modules its children used) is parsed first, then --gin_file and --gin_bindings; the child
trainer's settings come from run.json. The retrained child's accuracy is printed beside the
store's (a run whose data checksums differ from today's data says so).
"""
import json

from absl import app
from absl import flags

from mnms_tf import cli
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors
from mnms_tf.search import export as export_lib
from mnms_tf.search import incumbent
from mnms_tf.search import run_dir as run_dir_lib

_ROOT_DIR = cli.define(flags.DEFINE_string, 'root_dir', None, 'Search run directory.')
_TASK = cli.define(flags.DEFINE_string, 'task', None, 'Task whose best config is exported.')
_OUTPUT = cli.define(flags.DEFINE_string, 'output', None, 'Directory to write (must not exist).')
_DEPLOY_RULE = flags.DEFINE_enum('deploy_rule', None, incumbent.RULES,
                                 'How the config is chosen (default: shrunk_mean for a search '
                                 'that re-trains configs, else best_draw).')
cli.define_data_dir()
cli.define_gin_flags()



def main(argv):
  del argv
  root_dir = _ROOT_DIR.value
  data_dir = cli.data_dir()
  try:
    run_dir_lib.read_info(root_dir)
    run_dir_lib.parse_config_gin(root_dir)
    cli.parse_gin_flags()
    task_registry.check_task(_TASK.value, data_dir)
    metadata = export_lib.export(root_dir, _TASK.value, _OUTPUT.value, data_dir,
                                 _DEPLOY_RULE.value)
  except errors.UserError as e:
    errors.exit_with('export_best', e)
  print(f'Exported trial {metadata["trial_id"]} of {metadata["task"]} to {_OUTPUT.value} '
        f'({metadata["deploy_rule"]}: {metadata["draws"]} draws of its config, mean val '
        f'{metadata["mean_val_accuracy"]:.4f}): val {metadata["val_accuracy"]:.4f} (stored {metadata["stored_val_accuracy"]:.4f}), '
        f'test {metadata["test_accuracy"]:.4f} (stored {metadata["stored_test_accuracy"]:.4f})')
  print(json.dumps(metadata))


if __name__ == '__main__':
  flags.mark_flags_as_required(['root_dir', 'task', 'output'])
  app.run(main)
