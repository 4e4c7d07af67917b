r"""Builds the knowledge base that find_model and suggest start from, or adds a search to it.

  python -m mnms_tf.bin.build_knowledge --output=DIR [--ground_truth=FILE] [--workers=N] \
      [--gin_bindings="KnowledgeSettings.pretraining_iterations = 280"]
  python -m mnms_tf.bin.build_knowledge --output=DIR --add_run=RUN

Building (mnms_tf/transfer/knowledge.py): a multitask MNMS pre-training over
`KnowledgeSettings.tasks` (default: the suite's 14 tasks; build them first with
`python -m mnms_tf.bin.build_data --tasks=suite`), the value network fitted on its trials,
every task's features, and each task's best configs: by seed mean, and a zero-shot
portfolio, when --ground_truth names a benchmark's ground_truth.sqlite measured on these
tasks (`python -m mnms_tf.bin.benchmark`). Resumable: run it again to continue; a finished
base is never overwritten. The repository ships one in knowledge/suite (its manifest says
how and when it was built).

--add_run adds a finished single-task search (e.g. ROOT/search of find_model, or a
`search` run of a task bound in gin: its config.gin is read) to the base in --output.
"""
import os

from absl import app
from absl import flags
from absl import logging

from mnms_tf import cli
from mnms_tf.data import features
from mnms_tf import errors
from mnms_tf.evaluation import evaluators
from mnms_tf.experiments import ground_truth as ground_truth_lib
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.transfer import knowledge

_OUTPUT = cli.define(flags.DEFINE_string, 'output', None, 'The knowledge base directory.')
_GROUND_TRUTH = flags.DEFINE_string('ground_truth', None, "A benchmark's ground_truth.sqlite: "
                                    'best configs by seed mean, and a portfolio.')
_TRUTH_SEEDS = flags.DEFINE_integer('truth_seeds', 5, 'Seeds a config needs in the ground '
                                    'truth to count.', lower_bound=2)
_ADD_RUN = flags.DEFINE_string('add_run', None, 'A finished single-task search to add.')
_WORKERS = cli.define_workers()
cli.define_data_dir()
cli.define_gin_flags()


def read_truths(path, tasks, seeds):
  """task -> {config hash: ground_truth.Truth} of the ground truth at `path`."""
  if os.path.basename(path) != ground_truth_lib.FILENAME or not os.path.exists(path):
    raise errors.UserError(f'--ground_truth={path} is not a benchmark\'s '
                           f'{ground_truth_lib.FILENAME}')
  with ground_truth_lib.GroundTruthStore(os.path.dirname(path), read_only=True) as store:
    return {task: store.truths(task, seeds) for task in tasks}


def main(argv):
  del argv
  data_dir = cli.data_dir()
  output = os.path.abspath(_OUTPUT.value)
  try:
    if _ADD_RUN.value:
      info = run_dir_lib.read_info(_ADD_RUN.value)
      if len(info['tasks']) != 1:
        raise errors.UserError(f'--add_run={_ADD_RUN.value} searched {info["tasks"]}: a '
                               f'single-task search is added')
      run_dir_lib.parse_config_gin(_ADD_RUN.value)
    cli.parse_gin_flags()
    settings = knowledge.KnowledgeSettings()
    with evaluators.Children(data_dir, _WORKERS.value) as evaluator:
      if _ADD_RUN.value:
        kb = knowledge.load(output, evaluator)
        task_features = features.TaskFeatures.for_space(data_dir, evaluator.space, kb.features)
        knowledge.add(output, evaluator, task_features, _ADD_RUN.value, info['tasks'][0])
        logging.info('build_knowledge: %s added to %s', info['tasks'][0], output)
        return
      truths = (read_truths(os.path.abspath(_GROUND_TRUTH.value), settings.tasks,
                            _TRUTH_SEEDS.value) if _GROUND_TRUTH.value else None)
      task_features = features.TaskFeatures.for_space(data_dir, evaluator.space)
      manifest = knowledge.build(output, evaluator, task_features, settings, truths,
                                 _GROUND_TRUTH.value)
    print(f'Knowledge base in {output}: {len(manifest["tasks"])} tasks, '
          f'{settings.pretraining_iterations} pre-training iterations, best configs by '
          f'{"seed mean" if truths else "mean validation"}')
  except errors.UserError as e:
    errors.exit_with('build_knowledge', e)


if __name__ == '__main__':
  flags.mark_flags_as_required(['output'])
  app.run(main)
