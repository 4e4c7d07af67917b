r"""Reproduces the paper end to end: the searches over seeds, then the figures and REPORT.md.

  python -m mnms_tf.bin.reproduce [--experiment=paper|suite] [--root_dir=DIR] [--seeds=N] \
      [--multitask_iterations=N] [--transfer_iterations=N] [--workers=N] [--paper] \
      [--output_dir=paper_figures] [--gin_bindings=...] [--skip_search]

--experiment=paper (the default; root runs/reproduction):

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

--experiment=suite (root runs/suite): the sequel's protocol on the task suite
(mnms_tf/suite_experiment.py, gin/search/suite.gin): one controller pre-trained on 8 tasks,
then every held-out task searched per seed from scratch, transferred, and warm-started;
--multitask_iterations and --transfer_iterations set the pre-training and held-out budgets,
--seeds the held-out seeds (default: the gin file's). Resumable the same way. Writes
suite_transfer.png, suite_similarity.png, suite_table.md/.csv and REPORT.md's suite section.
"""
import dataclasses
import functools
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
from mnms_tf import suite_experiment
from paper_figures import fig2_multitask_search
from paper_figures import fig3_parameter_distributions
from paper_figures import fig4_transfer
from paper_figures import fig5_task_embeddings
from paper_figures import report
from paper_figures import results_table
from paper_figures import suite_similarity
from paper_figures import suite_transfer

_EXPERIMENT = flags.DEFINE_enum('experiment', 'paper', ['paper', 'suite'],
                                'The paper\'s experiments, or the sequel\'s on the task suite.')
_ROOT_DIR = flags.DEFINE_string('root_dir', None, 'Experiment directory (default: '
                                'runs/reproduction, or runs/suite).')
_SEEDS = flags.DEFINE_integer('seeds', None, 'Seeds per experiment (0..N-1; default 3, or the '
                              'suite gin file\'s).', lower_bound=1)
_MULTITASK_ITERATIONS = flags.DEFINE_integer(
    'multitask_iterations', None, 'Iterations of each multitask and on-policy search '
    '(default 100; the paper ran thousands of children: e.g. 500), or of the suite\'s '
    'pre-training (default: the gin file\'s).', lower_bound=1)
_TRANSFER_ITERATIONS = flags.DEFINE_integer(
    'transfer_iterations', None, 'Iterations of each transfer and scratch search (default 25; '
    'paper scale: e.g. 300), or of each held-out suite search (default: the gin file\'s).',
    lower_bound=1)
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

# experiment -> (gin file, experiment whose controller it starts from, iterations flag,
# its default)
EXPERIMENTS = {
    'multitask': ('multitask.gin', None, _MULTITASK_ITERATIONS, 100),
    'transfer': ('transfer.gin', 'multitask', _TRANSFER_ITERATIONS, 25),
    'scratch': ('transfer.gin', None, _TRANSFER_ITERATIONS, 25),
    'on_policy': ('multitask_on_policy.gin', None, _MULTITASK_ITERATIONS, 100),
}
PAPER_FIGURES = (fig2_multitask_search, fig3_parameter_distributions, fig4_transfer,
                 fig5_task_embeddings, results_table, report)


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
  for seed in range(_SEEDS.value or 3):
    for experiment, (_, init_from, iterations, default) in EXPERIMENTS.items():
      budget = iterations.value or default
      logging.info('=== %s, seed %d: %d iterations ===', experiment, seed, budget)
      _parse(experiment, seed)
      with evaluators.Children(data_dir, _WORKERS.value) as evaluator:
        runner.search(run_dir(root_dir, experiment, seed), runner.Budget(budget), evaluator,
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


def suite_protocol():
  """The suite's protocol from gin/search/suite.gin, the user's gin and the flags."""
  with gin.unlock_config():
    gin.clear_config()
    configs.parse(['search/suite.gin'] + list(flags.FLAGS.gin_file), flags.FLAGS.gin_bindings)
  overrides = {name: flag.value for name, flag in (
      ('seeds', _SEEDS), ('pretraining_iterations', _MULTITASK_ITERATIONS),
      ('held_out_iterations', _TRANSFER_ITERATIONS)) if flag.value is not None}
  return dataclasses.replace(suite_experiment.Protocol(), **overrides)


def run_suite(root_dir, data_dir):
  if _PAPER.value:
    raise errors.UserError('--experiment=suite runs on the offline suite only; drop --paper')
  protocol = suite_protocol()
  with evaluators.Children(data_dir, _WORKERS.value) as evaluator:
    evaluator.check_tasks(list(protocol.pretraining_tasks) + list(protocol.held_out_tasks))
    protocol.save(root_dir)
    suite_experiment.run_searches(root_dir, protocol, evaluator)


def main(argv):
  del argv
  suite = _EXPERIMENT.value == 'suite'
  root_dir = os.path.abspath(_ROOT_DIR.value or
                             ('runs/suite' if suite else 'runs/reproduction'))
  data_dir = os.path.abspath(_DATA_DIR.value or paths.default_data_dir())
  try:
    if suite:
      if not _SKIP_SEARCH.value:
        run_suite(root_dir, data_dir)
      figures = [functools.partial(module.make, data_dir=data_dir)
                 for module in (suite_similarity, suite_transfer)]
    else:
      if not _SKIP_SEARCH.value:
        run_searches(root_dir, data_dir)
      hand_tuned_baselines(root_dir, data_dir)
      figures = [module.make for module in PAPER_FIGURES]
  except errors.UserError as e:
    errors.exit_with('reproduce', e)
  for make in figures:
    print(make(root_dir, _OUTPUT_DIR.value))


if __name__ == '__main__':
  app.run(main)
