r"""Hand-tuned baselines for the results table: validation and test accuracy per task.

  python -m mnms_tf.bin.baselines [--tasks=a,b] [--baselines=hand_tuned,tfidf] [--json]

See mnms_tf/children/baselines.py for what each baseline is.
"""
import json

from absl import app
from absl import flags

from mnms_tf.children import baselines
from mnms_tf.children import trainer as child
from mnms_tf import cli
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors

_TASKS = cli.define(flags.DEFINE_list, 'tasks', list(task_registry.OFFLINE_TASKS),
                    'Tasks to evaluate.')
_BASELINES = flags.DEFINE_multi_enum('baselines', ['hand_tuned', 'tfidf'],
                                     ['hand_tuned', 'tfidf'], 'Baselines to run.')
_SEED = cli.define(flags.DEFINE_integer, 'seed', 0, 'Seed of the hand-tuned child.')
cli.define_data_dir()
_JSON = cli.define(flags.DEFINE_bool, 'json', False,
                   'Also print the results as JSON on the last line.')
cli.define_gin_flags()


def main(argv):
  del argv
  data_dir = cli.data_dir()
  results = {}
  try:
    cli.parse_gin_flags()
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
