r"""Runs, or resumes, an MNMS search (or a random search) in a run directory.

  python -m mnms_tf.bin.search --root_dir=runs/multitask --gin_file=search/multitask.gin \
      [--iterations=N] [--max_children=N] [--max_seconds=S] [--workers=N] \
      [--init_from=RUN_DIR] [--backend=processes|ray [--ray_address=ADDR]] [--gin_bindings=...]

Running the same command again resumes where the last one stopped (or was killed).
Settings of the search are gin (see `runner.search`); how long it runs and on how many
processes, flags: those may change between resumes, nothing else may.
"""
import sys

from absl import app
from absl import flags

from mnms_tf import cli
from mnms_tf.data import features
from mnms_tf import errors
from mnms_tf.evaluation import evaluators
from mnms_tf.search import runner

_ROOT_DIR = cli.define(flags.DEFINE_string, 'root_dir', None, 'Run directory (created or resumed).')
_ITERATIONS = flags.DEFINE_integer('iterations', None, 'Stop after this many iterations in '
                                   'all (resumes included).')
_MAX_CHILDREN = cli.define(flags.DEFINE_integer, 'max_children', None,
                           'Stop once this many children are stored in all.')
_MAX_SECONDS = cli.define(flags.DEFINE_float, 'max_seconds', None,
                          'Stop starting iterations after this many seconds of this invocation.')
_WORKERS = cli.define_workers()
_BACKEND, _RAY_ADDRESS = cli.define_backend(evaluators.BACKENDS)
_INIT_FROM = flags.DEFINE_string('init_from', None, 'Transfer: start from the MNMS controller '
                                 'of this run directory (overrides search.init_from).')
cli.define_data_dir()
cli.define_gin_flags()


def main(argv):
  del argv
  budget = runner.Budget(_ITERATIONS.value, _MAX_CHILDREN.value, _MAX_SECONDS.value)
  if budget == runner.Budget():
    sys.exit('search: error: give a budget: --iterations, --max_children or --max_seconds')
  overrides = {'init_from': _INIT_FROM.value} if _INIT_FROM.value else {}
  try:
    cli.parse_gin_flags()
    data_dir = cli.data_dir()
    with evaluators.Children(data_dir, _WORKERS.value, _BACKEND.value,
                             _RAY_ADDRESS.value) as evaluator:
      runner.search(_ROOT_DIR.value, budget, evaluator,
                    task_features=features.TaskFeatures.for_space(data_dir, evaluator.space),
                    **overrides)
  except errors.UserError as e:
    errors.exit_with('search', e)


if __name__ == '__main__':
  flags.mark_flags_as_required(['root_dir'])
  app.run(main)
