r"""Reproduces the paper end to end: the searches over seeds, then the figures and REPORT.md.

  python -m mnms_tf.bin.reproduce [--experiment=paper|suite|peers] [--root_dir=DIR] [--seeds=N] \
      [--multitask_iterations=N] [--transfer_iterations=N] [--workers=N] [--paper] \
      [--backend=processes|ray [--ray_address=ADDR] [--concurrent_searches=N]] \
      [--output_dir=paper_figures] \
      [--gin_bindings=...] [--skip_search]

--experiment=paper (the default; root runs/reproduction):

Per seed, four searches (run directories ROOT/EXPERIMENT/seed_N):
  multitask  spanish_langid + rt_snippets, off-policy MNMS  (mnms_tf/gin/search/multitask.gin)
  transfer   polarity_reviews + es_tweets, from that seed's multitask controller
  scratch    polarity_reviews + es_tweets, a fresh controller (mnms_tf/gin/search/transfer.gin)
  on_policy  the multitask search with on-policy REINFORCE (multitask_on_policy.gin)
then the hand-tuned baselines (ROOT/baselines.json), the four figures, the results table
and REPORT.md (paper_figures/). Budgets are iterations of 8 children, so every seed gets
the same search. Running it again resumes: finished searches are skipped, an interrupted
one continues where it stopped. --paper uses the real datasets and TF-Hub modules
(mnms_tf/gin/search/paper_*.gin; needs internet). --gin_file and --gin_bindings apply to every
search, after the experiment's own gin file.

--experiment=suite (root runs/suite): the sequel's protocol on the task suite
(mnms_tf/experiments/suite.py, mnms_tf/gin/search/suite.gin): one controller pre-trained on 8 tasks,
then every held-out task searched per seed from scratch, transferred, and warm-started;
--multitask_iterations and --transfer_iterations set the pre-training and held-out budgets,
--seeds the held-out seeds (default: the gin file's). Resumable the same way. Writes
suite_transfer.png, suite_similarity.png, suite_table.md/.csv and REPORT.md's suite section.

--experiment=peers (root runs/suite): MNMS against random search, Optuna's TPE and Keras
Tuner on the suite's held-out tasks (mnms_tf/experiments/peers.py), reusing the suite's
searches there are and running the rest; --seeds as for the suite, the methods and tasks
compared as gin bindings (PeerComparison.methods, PeerComparison.tasks). Writes
search_vs_peers.csv, .md and .png.

Every experiment's children train on --workers worker processes, or, with --backend=ray,
on as many Ray actors (a local Ray, or the cluster at --ray_address); its searches run one
after another in this process. With --backend=ray and --concurrent_searches=N, the
experiment's independent searches (the paper's per seed, the suite's and the peers'
held-out ones, after the pre-training) run N at a time as Ray tasks, each with --workers
actors of its own, storing the same trials (mnms_tf/experiments/searches.py, which says
what a lost node does; docs/searching.md, on a cluster).

--skip_search draws from the searches there are, under the same gin as a run with searches
(the experiment's gin file, then --gin_file and --gin_bindings): the suite's figures
recompute task representations, which gin configures.
"""
import dataclasses
import functools
import json
import os

from absl import app
from absl import flags
from absl import logging
import gin

from mnms_tf.children import baselines
from mnms_tf import cli
from mnms_tf import configs
from mnms_tf.data import features
from mnms_tf import errors
from mnms_tf.evaluation import evaluators
from mnms_tf.experiments.figures import fig2_multitask_search
from mnms_tf.experiments.figures import fig3_parameter_distributions
from mnms_tf.experiments.figures import fig4_transfer
from mnms_tf.experiments.figures import fig5_task_embeddings
from mnms_tf.experiments.figures import report
from mnms_tf.experiments.figures import results_table
from mnms_tf.experiments.figures import suite_similarity
from mnms_tf.experiments.figures import suite_transfer
from mnms_tf.experiments import peers as peers_experiment
from mnms_tf.experiments import searches
from mnms_tf.experiments import suite as suite_experiment

_EXPERIMENT = flags.DEFINE_enum('experiment', 'paper', ['paper', 'suite', 'peers'],
                                'The paper\'s experiments, the sequel\'s on the task suite, or '
                                'MNMS against its peers on the suite\'s held-out tasks.')
_ROOT_DIR = cli.define(flags.DEFINE_string, 'root_dir', None, 'Experiment directory (default: '
                                'runs/reproduction, or runs/suite).')
_SEEDS = flags.DEFINE_integer('seeds', None, 'Seeds per experiment (0..N-1; default 3, the '
                              'suite gin file\'s, or for peers the suite protocol\'s).',
                              lower_bound=1)
_MULTITASK_ITERATIONS = flags.DEFINE_integer(
    'multitask_iterations', None, 'Iterations of each multitask and on-policy search '
    '(default 100; the paper ran thousands of children: e.g. 500), or of the suite\'s '
    'pre-training (default: the gin file\'s).', lower_bound=1)
_TRANSFER_ITERATIONS = flags.DEFINE_integer(
    'transfer_iterations', None, 'Iterations of each transfer and scratch search (default 25; '
    'paper scale: e.g. 300), or of each held-out suite search (default: the gin file\'s).',
    lower_bound=1)
_WORKERS = cli.define_workers()
_BACKEND, _RAY_ADDRESS = cli.define_backend(evaluators.BACKENDS)
_CONCURRENT_SEARCHES = flags.DEFINE_integer(
    'concurrent_searches', 1, 'With --backend=ray: independent searches run this many at a '
    'time as Ray tasks, each with --workers actors (1: one after another, here).',
    lower_bound=1)
_PAPER = flags.DEFINE_bool('paper', False, 'The real datasets and TF-Hub modules (online).')
_OUTPUT_DIR, _SKIP_SEARCH = cli.define_outputs()
cli.define_data_dir()
cli.define_gin_flags()

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


def _children(data_dir):
  """What trains a search's children here: --workers processes, or Ray actors (--backend)."""
  return evaluators.Children(data_dir, _WORKERS.value, _BACKEND.value, _RAY_ADDRESS.value)


def _concurrent(data_dir):
  """The searches run at once on Ray (--concurrent_searches), or None: one after another."""
  if _CONCURRENT_SEARCHES.value == 1:
    return None
  if _BACKEND.value != 'ray':
    raise errors.UserError('--concurrent_searches runs searches as Ray tasks: add --backend=ray')
  return searches.RaySearches(_CONCURRENT_SEARCHES.value, _WORKERS.value, data_dir,
                              _RAY_ADDRESS.value)


def paper_searches(root_dir):
  """The paper experiment's searches (searches.SearchJob), seed by seed, each under its
  experiment's gin; a transfer waits for its seed's multitask search."""
  jobs = []
  for seed in range(_SEEDS.value or 3):
    for experiment, (_, init_from, iterations, default) in EXPERIMENTS.items():
      _parse(experiment, seed)
      source = run_dir(root_dir, init_from, seed) if init_from else None
      jobs.append(searches.SearchJob(
          run_dir(root_dir, experiment, seed), iterations.value or default,
          {'init_from': source} if source else {}, gin_config=configs.config_str(),
          after=(source,) if source else (), label=f'{experiment}, seed {seed}'))
  return jobs


def run_paper(root_dir, data_dir):
  jobs, concurrent = paper_searches(root_dir), _concurrent(data_dir)
  if concurrent:
    concurrent.run(jobs)
    return
  for job in jobs:  # each search's trainer reads its own experiment's gin
    job.parse_gin()
    with _children(data_dir) as evaluator:
      job.run(evaluator)


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


def _parse_suite():
  """mnms_tf/gin/search/suite.gin, then the user's gin: what the suite's searches, and the
  figures drawn from them, run under."""
  with gin.unlock_config():
    gin.clear_config()
    configs.parse(['search/suite.gin'] + list(flags.FLAGS.gin_file), flags.FLAGS.gin_bindings)


def suite_protocol():
  """The suite's protocol from mnms_tf/gin/search/suite.gin, the user's gin and the flags."""
  _parse_suite()
  overrides = {name: flag.value for name, flag in (
      ('seeds', _SEEDS), ('pretraining_iterations', _MULTITASK_ITERATIONS),
      ('held_out_iterations', _TRANSFER_ITERATIONS)) if flag.value is not None}
  return dataclasses.replace(suite_experiment.Protocol(), **overrides)


def run_suite(root_dir, data_dir, protocol, peers=False):
  """The suite's (or the peers comparison's) searches: the pre-training, then the held-out
  searches one after another on the same workers, or at once on Ray."""
  experiment = 'peers' if peers else 'suite'
  if _PAPER.value:
    raise errors.UserError(f'--experiment={experiment} runs on the offline suite only; drop '
                           f'--paper')
  concurrent = _concurrent(data_dir)
  with _children(data_dir) as evaluator:
    evaluator.check_tasks(list(protocol.pretraining_tasks) + list(protocol.held_out_tasks))
    if not peers:
      protocol.save(root_dir)
    task_features = features.TaskFeatures.for_space(data_dir, evaluator.space)
    suite_experiment.pretrain(root_dir, protocol, evaluator, task_features)
    jobs = suite_experiment.held_out_searches(root_dir, protocol)
    if not concurrent:
      searches.run_here(jobs, evaluator, task_features)
  if concurrent:  # once this process's actors are gone: they would hold CPUs the searches need
    concurrent.run(jobs)


def peers_protocol(root_dir):
  """The suite's protocol restricted to the comparison (mnms_tf/experiments/peers.py)."""
  if _MULTITASK_ITERATIONS.value or _TRANSFER_ITERATIONS.value:
    raise errors.UserError('--experiment=peers compares on the suite\'s budgets; drop '
                           '--multitask_iterations and --transfer_iterations')
  _parse_suite()
  return peers_experiment.comparison_protocol(root_dir, seeds=_SEEDS.value)


def main(argv):
  del argv
  suite = _EXPERIMENT.value == 'suite'
  root_dir = os.path.abspath(_ROOT_DIR.value or ('runs/reproduction' if _EXPERIMENT.value ==
                                                 'paper' else 'runs/suite'))
  data_dir = cli.data_dir()
  try:
    if suite:
      protocol = suite_protocol()  # parses the gin the figures are drawn under, too
      if not _SKIP_SEARCH.value:
        run_suite(root_dir, data_dir, protocol)
      task_features = suite_experiment.task_features(root_dir, data_dir)
      figures = [functools.partial(module.make, task_features=task_features)
                 for module in (suite_similarity, suite_transfer)]
    elif _EXPERIMENT.value == 'peers':
      protocol = peers_protocol(root_dir)
      if not _SKIP_SEARCH.value:
        run_suite(root_dir, data_dir, protocol, peers=True)
      figures = [lambda root, output: '\n'.join(peers_experiment.report(root, protocol, output))]
    else:
      if not _SKIP_SEARCH.value:
        run_paper(root_dir, data_dir)
      hand_tuned_baselines(root_dir, data_dir)
      figures = [module.make for module in PAPER_FIGURES]
    for make in figures:
      print(make(root_dir, _OUTPUT_DIR.value or cli.PAPER_FIGURES))
  except errors.UserError as e:
    errors.exit_with('reproduce', e)


if __name__ == '__main__':
  app.run(main)
