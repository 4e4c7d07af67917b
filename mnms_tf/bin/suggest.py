r"""Suggests configs for a task before any child is trained on it (arXiv 1902.05781).

  python -m mnms_tf.bin.suggest --task_file=reviews.csv [--text_column=...] \
      [--label_column=...] [--knowledge=DIR] [--top_k=5] [--train]
  python -m mnms_tf.bin.suggest --task=NAME --runs=DIR[,DIR...] [--top_k=5] [--train] \
      [--model_dir=DIR] [--data_dir=DIR] [--gin_file=...] [--gin_bindings=...]

With a task file (or --task without --runs), the knowledge base's value network
(mnms_tf/transfer/knowledge.py; --knowledge as in find_model) rates the configs for the task
in seconds: nothing is fitted and, without --train, nothing trained.

With --runs, it fits a value network (mnms_tf/transfer/value_network.py) on every successful
trial of the run directories except the task's own, so the suggestion never uses a child of
the task, and prints the `top_k` configs it rates best with their predicted validation
accuracy. The network is kept in --model_dir (default: DATA_DIR/cache/value_networks/<key of
the runs, their trial counts, the task and the settings>) and reused, or resumed if
interrupted. The first run's config.gin is parsed first (its tasks and modules), then
--gin_file and --gin_bindings (e.g. `ValueNetworkSettings.loss = 'pairwise'`,
`AscentSettings.restarts = 32`).

--train trains each suggestion (seed = the suggestion's rank; with --runs, by the first
run's child trainer) and prints its real validation and test accuracy beside the prediction.
"""
import dataclasses
import hashlib
import json
import os

from absl import app
from absl import flags

from mnms_tf import cli
from mnms_tf.data import features as task_features
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors
from mnms_tf.evaluation import evaluators
from mnms_tf import paths
from mnms_tf.search import restore
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import knowledge as knowledge_lib
from mnms_tf.transfer import value_network

_TASK = cli.define(flags.DEFINE_string, 'task', None, 'The task to suggest configs for.')
_RUNS = flags.DEFINE_list('runs', None, 'Search run directories to learn from.')
_TOP_K = flags.DEFINE_integer('top_k', 5, 'How many configs.', lower_bound=1)
_TRAIN = flags.DEFINE_bool('train', False, 'Train each suggestion and print its accuracy.')
_MODEL_DIR = flags.DEFINE_string('model_dir', None, 'Where the value network is kept.')
_KNOWLEDGE = cli.define_knowledge()
cli.define_task_file()
cli.define_data_dir()
cli.define_gin_flags()


def _default_model_dir(data_dir, runs, task, settings, representations):
  """A cache directory named by everything the fit depends on."""
  counts = []
  for run in runs:
    with store_lib.TrialStore(run, read_only=True) as store:
      counts.append(store.count())
  key = json.dumps([runs, counts, task, dataclasses.asdict(settings),
                    {t: list(map(float, r)) for t, r in representations.items()}],
                   sort_keys=True)
  return paths.cache_dir(data_dir, 'value_networks',
                         hashlib.sha256(key.encode()).hexdigest()[:16])


def suggest(task, runs, top_k, train, model_dir, data_dir):
  """[(config, predicted accuracy, ChildResult or None)]."""
  infos = [run_dir_lib.read_info(r) for r in runs]
  space = run_dir_lib.restore_search_space(infos[0])
  if any(run_dir_lib.restore_search_space(i).describe() != space.describe() for i in infos):
    raise value_network.ValueNetworkError('The runs searched different spaces; give runs of '
                                          'one search space')
  task_registry.check_task(task, data_dir)
  trainer = restore.child_trainer(infos[0], data_dir)
  features = task_features.TaskFeatures.for_space(data_dir, space)
  learned = value_network.load_trials(runs, space, exclude_tasks=[task])
  representations = {t: features.representation(t)
                     for t in sorted(set(learned.tasks)) + [task]}
  settings = value_network.ValueNetworkSettings()
  network = value_network.fit(
      model_dir or _default_model_dir(data_dir, runs, task, settings, representations), runs,
      representations, space, exclude_tasks=[task], settings=settings)
  suggestions = network.suggest(representations[task], top_k=top_k)
  return [(config, predicted, trainer.train(task, config, seed) if train else None)
          for seed, (config, predicted) in enumerate(suggestions)]


def suggest_from_knowledge(task, kb_dir, top_k, train, data_dir):
  """[(config, predicted accuracy, ChildResult or None)] by the knowledge base's network."""
  task_registry.check_task(task, data_dir)
  evaluator = evaluators.Children(data_dir)
  kb = knowledge_lib.load(kb_dir, evaluator)
  features = task_features.TaskFeatures.for_space(data_dir, evaluator.space, kb.features)
  network = value_network.load(os.path.join(kb_dir, knowledge_lib.VALUE_NETWORK))
  suggestions = network.suggest(features.representation(task), top_k=top_k)
  return [(config, predicted, evaluator.trainer.train(task, config, seed) if train else None)
          for seed, (config, predicted) in enumerate(suggestions)]


def main(argv):
  del argv
  data_dir = cli.data_dir()
  try:
    if bool(_TASK.value) == bool(flags.FLAGS.task_file):
      raise errors.UserError('Give the task: --task=NAME or --task_file=FILE (not both)')
    if _RUNS.value:
      runs = [os.path.abspath(r) for r in _RUNS.value]
      run_dir_lib.read_info(runs[0])
      run_dir_lib.parse_config_gin(runs[0])
    cli.parse_gin_flags()
    task = cli.bind_task_file() if flags.FLAGS.task_file else _TASK.value
    if _RUNS.value:
      source = f'a value network fitted on {len(runs)} run(s)'
      rows = suggest(task, runs, _TOP_K.value, _TRAIN.value, _MODEL_DIR.value, data_dir)
    else:
      kb_dir = cli.knowledge_dir(data_dir, _KNOWLEDGE.value)
      source = f'the value network of the knowledge base at {kb_dir}'
      rows = suggest_from_knowledge(task, kb_dir, _TOP_K.value, _TRAIN.value, data_dir)
  except errors.UserError as e:
    errors.exit_with('suggest', e)
  print(f'Suggested for {task} by {source}:')
  for rank, (config, predicted, result) in enumerate(rows, start=1):
    real = ''
    if result is not None:
      real = (f' | trained: val {result.val_accuracy:.4f}, test {result.test_accuracy:.4f}'
              if result.status == store_lib.OK else f' | training failed: {result.message}')
    print(f'{rank}. predicted {predicted:.4f}{real} | {json.dumps(config)}')


if __name__ == '__main__':
  app.run(main)
