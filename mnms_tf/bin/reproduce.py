r"""Reproduces the paper end to end: the searches over seeds, then the figures and REPORT.md.

  python -m mnms_tf.bin.reproduce [--root_dir=runs/reproduction] [--seeds=3] \
      [--multitask_iterations=N] [--transfer_iterations=N] [--workers=N] [--paper] \
      [--output_dir=paper_figures] [--gin_bindings=...] [--skip_search]

Per seed, four searches (run directories ROOT/EXPERIMENT/seed_N):
  multitask  spanish_langid + rt_snippets, off-policy MNMS  (gin/search/multitask.gin)
  transfer   polarity_reviews + es_tweets, from that seed's multitask controller
  scratch    polarity_reviews + es_tweets, a fresh controller (gin/search/transfer.gin)
  on_policy  the multitask search with on-policy REINFORCE (multitask_on_policy.gin)
then the hand-tuned baselines (ROOT/baselines.json), the four figures, the results table
and REPORT.md (paper_figures/). Budgets are iterations of 8 children, so every seed gets
the same search. Running it again resumes: finished searches are skipped, an interrupted
one continues where it stopped. --paper uses the real datasets and TF-Hub modules
(gin/search/paper_*.gin; needs internet). --gin_file and --gin_bindings apply to every
search, after the experiment's own gin file.
"""
import json
import os

from absl import app
from absl import flags
from absl import logging
import gin

from mnms_tf import baselines
from mnms_tf import configs
from mnms_tf import errors
from mnms_tf import evaluators
from mnms_tf import paths
from mnms_tf import runner
from paper_figures import fig2_multitask_search
from paper_figures import fig3_parameter_distributions
from paper_figures import fig4_transfer
from paper_figures import fig5_task_embeddings
from paper_figures import report
from paper_figures import results_table

_ROOT_DIR = flags.DEFINE_string('root_dir', 'runs/reproduction', 'Reproduction directory.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds per experiment (0..N-1).')
_MULTITASK_ITERATIONS = flags.DEFINE_integer(
    'multitask_iterations', 100, 'Iterations of each multitask and on-policy search '
    '(the paper ran thousands of children: e.g. 500).')
_TRANSFER_ITERATIONS = flags.DEFINE_integer(
    'transfer_iterations', 25, 'Iterations of each transfer and scratch search (paper scale: '
    'e.g. 300).')
_WORKERS = flags.DEFINE_integer('workers', os.cpu_count(), 'Child processes per search.',
                                lower_bound=1)
_PAPER = flags.DEFINE_bool('paper', False, 'The real datasets and TF-Hub modules (online).')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    'paper_figures'), 'Where the figures, the table and REPORT.md are written.')
_SKIP_SEARCH = flags.DEFINE_bool('skip_search', False, 'Only redraw figures and the report.')
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'Data directory (default: $MNMS_DATA_DIR '
                                'or ~/.cache/mnms_tf).')
configs.define_gin_flags()

# experiment -> (gin file, experiment whose controller it starts from, iterations flag)
EXPERIMENTS = {
    'multitask': ('multitask.gin', None, _MULTITASK_ITERATIONS),
    'transfer': ('transfer.gin', 'multitask', _TRANSFER_ITERATIONS),
    'scratch': ('transfer.gin', None, _TRANSFER_ITERATIONS),
    'on_policy': ('multitask_on_policy.gin', None, _MULTITASK_ITERATIONS),
}


def run_dir(root_dir, experiment, seed):
  return os.path.join(root_dir, experiment, f'seed_{seed}')


def _parse(experiment, seed):
  gin_file = EXPERIMENTS[experiment][0]
  with gin.unlock_config():
    gin.clear_config()
    configs.parse([f'search/{"paper_" if _PAPER.value else ""}{gin_file}'] +
                  list(flags.FLAGS.gin_file),
                  list(flags.FLAGS.gin_bindings) + [f'search.seed = {seed}'])


def run_searches(root_dir, data_dir):
  for seed in range(_SEEDS.value):
    for experiment, (_, init_from, iterations) in EXPERIMENTS.items():
      logging.info('=== %s, seed %d: %d iterations ===', experiment, seed, iterations.value)
      _parse(experiment, seed)
      with evaluators.Children(data_dir, _WORKERS.value) as evaluator:
        runner.search(run_dir(root_dir, experiment, seed), runner.Budget(iterations.value),
                      evaluator,
                      init_from=run_dir(root_dir, init_from, seed) if init_from else None)


def hand_tuned_baselines(root_dir, data_dir):
  """task -> hand-tuned val/test, computed once into ROOT/baselines.json."""
  path = os.path.join(root_dir, results_table.BASELINES)
  if os.path.exists(path):
    return
  scores = {}
  for experiment in ('multitask', 'transfer'):
    _parse(experiment, 0)
    for task in gin.query_parameter('search.tasks'):
      scores[task] = baselines.hand_tuned(task, data_dir)
      logging.info('hand-tuned %s: %s', task, scores[task])
  with open(path, 'w') as f:
    json.dump(scores, f, indent=2)


def main(argv):
  del argv
  root_dir = os.path.abspath(_ROOT_DIR.value)
  data_dir = os.path.abspath(_DATA_DIR.value or paths.default_data_dir())
  try:
    if not _SKIP_SEARCH.value:
      run_searches(root_dir, data_dir)
    hand_tuned_baselines(root_dir, data_dir)
  except errors.UserError as e:
    errors.exit_with('reproduce', e)
  output_dir = _OUTPUT_DIR.value
  for module in (fig2_multitask_search, fig3_parameter_distributions, fig4_transfer,
                 fig5_task_embeddings, results_table, report):
    print(module.make(root_dir, output_dir))


if __name__ == '__main__':
  app.run(main)
