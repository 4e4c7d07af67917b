r"""Hand-tuned baselines for the results table: validation and test accuracy per task.

  python -m mnms_tf.bin.baselines [--tasks=a,b] [--baselines=hand_tuned,tfidf] [--json]

See mnms_tf/baselines.py for what each baseline is.
"""
import json
import os

from absl import app
from absl import flags

from mnms_tf import baselines
from mnms_tf import child
from mnms_tf import configs
from mnms_tf import errors
from mnms_tf import paths
from mnms_tf.tasks import registry as task_registry

_TASKS = flags.DEFINE_list('tasks', list(task_registry.OFFLINE_TASKS), 'Tasks to evaluate.')
_BASELINES = flags.DEFINE_multi_enum('baselines', ['hand_tuned', 'tfidf'],
                                     ['hand_tuned', 'tfidf'], 'Baselines to run.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the hand-tuned child.')
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'Data directory (default: $MNMS_DATA_DIR '
                                'or ~/.cache/mnms_tf).')
_JSON = flags.DEFINE_bool('json', False, 'Also print the results as JSON on the last line.')
configs.define_gin_flags()


def main(argv):
  del argv
  data_dir = os.path.abspath(_DATA_DIR.value or paths.default_data_dir())
  results = {}
  try:
    configs.parse_gin_flags()
    for name in _TASKS.value:
      task_registry.get_task(name)
    trainer = child.ChildTrainer(data_dir=data_dir)
    runners = {'hand_tuned': lambda t: baselines.hand_tuned(t, data_dir, _SEED.value, trainer),
               'tfidf': lambda t: baselines.tfidf(t, data_dir)}
    for name in _TASKS.value:
      for baseline in _BASELINES.value:
        results.setdefault(name, {})[baseline] = score = runners[baseline](name)
        print(f'{name:18} {baseline:11} val {score["val"]:.4f}  test {score["test"]:.4f}  '
              f'{score["detail"]}', flush=True)
  except errors.UserError as e:
    errors.exit_with('baselines', e)
  if _JSON.value:
    print(json.dumps(results, sort_keys=True))


if __name__ == '__main__':
  app.run(main)
