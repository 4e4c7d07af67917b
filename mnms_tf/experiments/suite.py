"""The sequel's transfer protocol on the task suite (Wong et al. 2018, arXiv 1803.02780).

One MNMS controller is pre-trained on `Protocol.pretraining_tasks`; then, for every
held-out task and seed, one single-task search per variant (`VARIANTS`): random search,
MNMS from scratch, transferred with the paper's random task embedding, warm-started from
the most similar pre-training task (arXiv 2205.06355), and warm-started and first
evaluating the configs that a value network fitted on the pre-training trials suggests
(arXiv 1902.05781). Every variant of a (task, seed) gets the same budget and the same child
seeds. Directories: ROOT/pretrain, ROOT/value_network, ROOT/TASK/VARIANT/seed_N.

Measures (`measures`): a task's best-known accuracy is the best validation accuracy of any
child trained for it in any of these searches; a search needs the number of children it
trained until one reached `reach_fraction` of that. A search that never does counts as its
whole budget (a lower bound, marked '>' in the tables), which understates the speed-up of
a variant over one that misses more often.
"""
import dataclasses
import json
import os
from typing import Sequence

from absl import logging
import gin
import numpy as np
from scipy import stats

from mnms_tf import configs
from mnms_tf.children import supernet
from mnms_tf.data import features
from mnms_tf.experiments import analysis
from mnms_tf.experiments import searches
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import knowledge
from mnms_tf.transfer import measures as measures_lib
from mnms_tf.transfer import value_network
from mnms_tf.transfer import warm_start

PROTOCOL = 'protocol.json'
# A fold is laid out as a knowledge base is, so that every variant starts from either.
PRETRAIN, VALUE_NETWORK = knowledge.PRETRAIN, knowledge.VALUE_NETWORK
PORTFOLIO, ARCHITECTURES = knowledge.PORTFOLIO, knowledge.ARCHITECTURES
# The warm-started differentiable searches' supernet steps: the cold one's (SupernetSettings.
# steps) less the 60% that arXiv 2205.06355 reports saving.
_WARM_SUPERNET = {'steps_share': 0.4}

# variant -> how its held-out search starts (plain data: search() arguments, besides
# `transfer`, which starts it from the pre-trained controller, and `controller`, the kind
# of controller; 'suggested' configs come from a value network fitted on the pre-training
# trials, ROOT/value_network).
VARIANTS = {
    'scratch': {'transfer': False},
    'random': {'transfer': False, 'controller': 'random'},
    'transfer': {'transfer': True, 'task_embedding_init': 'random'},
    'nearest': {'transfer': True, 'task_embedding_init': 'nearest'},
    'similarity_weighted': {'transfer': True, 'task_embedding_init': 'similarity_weighted'},
    'warm_configs': {'transfer': True, 'task_embedding_init': 'similarity_weighted',
                     'initial_configs': 'nearest_best'},
    'suggested': {'transfer': True, 'task_embedding_init': 'similarity_weighted',
                  'initial_configs': 'suggested'},
    # The searchers a user would pick instead (controllers/peers.py; experiments/peers.py):
    # Optuna's TPE, also warm-started by hand (`enqueue_trial`) with the best configs of the
    # most similar pre-training task, Keras Tuner's Bayesian optimisation and SMAC3.
    'tpe': {'transfer': False, 'controller': 'tpe'},
    'tpe_warm': {'transfer': False, 'controller': 'tpe', 'initial_configs': 'nearest_best',
                 'configs_from': PRETRAIN},
    'keras_tuner': {'transfer': False, 'controller': 'keras_tuner'},
    # SMAC3 (random forest, intensification with deterministic=False: it re-trains its
    # incumbents on new seeds; the benchmark deploys it by best mean, as its incumbent).
    'smac': {'transfer': False, 'controller': 'smac'},
    # A zero-shot portfolio (transfer/portfolio.py) over the pre-training tasks' ground
    # truth, one iteration of it, then random search: the benchmark's (experiments/
    # benchmark.py) bar for any method that claims to transfer; ROOT/portfolio.json.
    'portfolio': {'transfer': False, 'controller': 'random', 'initial_configs': 'portfolio',
                  'num_initial_configs': 8, 'portfolio': PORTFOLIO},
    # MNMS as the proposal distribution of a meta-learned model-based search (search/
    # proposals.py, transfer/assisted.py): `suggested`, then the value network, corrected
    # online by the task's children, picks 8 of the controller's 128 samples; and with 2 of
    # every 8 slots re-training the most promising configs (deployed by shrunk mean:
    # the benchmark's deploy_rules).
    'assisted': {'transfer': True, 'task_embedding_init': 'similarity_weighted',
                 'initial_configs': 'suggested', 'candidates_per_slot': 16},
    'assisted_retrain': {'transfer': True, 'task_embedding_init': 'similarity_weighted',
                         'initial_configs': 'suggested', 'candidates_per_slot': 16,
                         'retrain_slots': 2, 'max_draws': 4},
    # Differentiable search (controllers/differentiable.py, arXiv 2205.06355): a supernet on
    # the task, then its derived configs, with the learning rate, length and l2 of the most
    # similar pre-training task's best config; cold, or its architecture weights from the
    # most similar pre-training task's supernet (and its hidden layers: _weights) or from
    # the meta-architecture over all of them (ROOT/architectures), at 40% of the steps.
    'darts': {'transfer': False, 'controller': 'darts', 'hyperparameters_from': PRETRAIN},
    'darts_warm': {'transfer': False, 'controller': 'darts', 'hyperparameters_from': PRETRAIN,
                   'architecture_init': 'nearest', 'architectures': ARCHITECTURES,
                   'controller_settings': _WARM_SUPERNET},
    'darts_warm_weights': {'transfer': False, 'controller': 'darts',
                           'hyperparameters_from': PRETRAIN, 'architecture_init': 'nearest',
                           'architectures': ARCHITECTURES,
                           'controller_settings': dict(_WARM_SUPERNET, init_weights=True)},
    'darts_meta': {'transfer': False, 'controller': 'darts', 'hyperparameters_from': PRETRAIN,
                   'architecture_init': 'meta', 'architectures': ARCHITECTURES,
                   'controller_settings': _WARM_SUPERNET},
}
SUITE_VARIANTS = ('scratch', 'random', 'transfer', 'nearest', 'similarity_weighted',
                  'warm_configs', 'suggested')


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Protocol:
  """The experiment's split and scale; mnms_tf/gin/search/suite.gin holds the defaults, with the
  reasons for its split."""
  pretraining_tasks: Sequence[str]
  held_out_tasks: Sequence[str]
  pretraining_iterations: int
  held_out_iterations: int
  seeds: int
  variants: Sequence[str] = SUITE_VARIANTS
  reach_fraction: float = 0.99
  first_children: int = 16

  def __post_init__(self):
    for name in ('pretraining_tasks', 'held_out_tasks', 'variants'):  # gin gives lists
      object.__setattr__(self, name, tuple(getattr(self, name)))
    unknown = sorted(set(self.variants) - set(VARIANTS))
    if unknown:
      raise runner.RunDirError(f'Protocol.variants: unknown {unknown}; known: {list(VARIANTS)}')
    overlap = sorted(set(self.pretraining_tasks) & set(self.held_out_tasks))
    if overlap:
      raise runner.RunDirError(f'Protocol: {overlap} both pre-trained on and held out')

  def save(self, root_dir):
    """ROOT/protocol.json: what the figures and the report read."""
    os.makedirs(root_dir, exist_ok=True)
    with open(os.path.join(root_dir, PROTOCOL), 'w') as f:
      json.dump(dataclasses.asdict(self), f, indent=2)

  @classmethod
  def load(cls, root_dir):
    path = os.path.join(root_dir, PROTOCOL)
    if not os.path.exists(path):
      raise FileNotFoundError(f'{root_dir} is not a suite experiment directory (no {PROTOCOL})')
    with open(path) as f:
      return cls(**json.load(f))


def task_features(root_dir, data_dir):
  """The task-features service over the modules the pre-training run searched: what the
  experiment's warm starts, value network and figures describe tasks by."""
  info = run_dir_lib.read_info(os.path.join(root_dir, PRETRAIN))
  return features.TaskFeatures.for_space(data_dir, run_dir_lib.restore_search_space(info))


def held_out_dir(root_dir, task, variant, seed):
  return os.path.join(root_dir, task, variant, f'seed_{seed}')


def run_searches(root_dir, protocol, evaluator, task_features):
  """Runs (or resumes) every search of the protocol on `evaluator`, one after another.
  `task_features`: what warm starts and the value network describe tasks by
  (data.features.TaskFeatures)."""
  pretrain(root_dir, protocol, evaluator, task_features)
  searches.run_here(held_out_searches(root_dir, protocol), evaluator, task_features)


def pretrain(root_dir, protocol, evaluator, task_features):
  """ROOT/pretrain, then, for variants that read it, ROOT/value_network: what every
  held-out search may start from."""
  logging.info('=== pre-training on %d tasks: %d iterations ===',
               len(protocol.pretraining_tasks), protocol.pretraining_iterations)
  runner.search(os.path.join(root_dir, PRETRAIN), runner.Budget(protocol.pretraining_iterations),
                evaluator, tasks=list(protocol.pretraining_tasks), seed=0)
  if reads_value_network(protocol.variants):
    fit_value_network(root_dir, protocol, task_features)
  if reads_architectures(protocol.variants):
    build_architectures(root_dir, protocol, evaluator)


def held_out_searches(root_dir, protocol):
  """Every held-out search (searches.SearchJob, under the gin in force), seed by seed, so
  that an interrupted experiment already holds whole seeds."""
  config = configs.config_str()
  return [searches.SearchJob(held_out_dir(root_dir, task, variant, seed),
                             protocol.held_out_iterations,
                             dict(tasks=[task], seed=seed, **search_arguments(root_dir, variant)),
                             gin_config=config, label=f'{task}, {variant}, seed {seed}')
          for seed in range(protocol.seeds) for task in protocol.held_out_tasks
          for variant in protocol.variants]


def reads_value_network(variants):
  """Whether a variant starts from the value network's suggestions or picks with it."""
  return any(VARIANTS[v].get('initial_configs') == 'suggested' or
             VARIANTS[v].get('candidates_per_slot', 1) > 1 for v in variants)


def reads_architectures(variants):
  """Whether a variant starts a differentiable search from earlier tasks' supernets."""
  return any(VARIANTS[v].get('architecture_init') for v in variants)


def build_architectures(root_dir, protocol, evaluator):
  """ROOT/architectures: each pre-training task's supernet, with the learning rate, length
  and l2 of its own best config in ROOT/pretrain, and the meta-architecture over them."""
  pretrain_dir = os.path.join(root_dir, PRETRAIN)
  tasks = list(protocol.pretraining_tasks)
  best = warm_start.nearest_best_configs(pretrain_dir, {t: {t: 1.0} for t in tasks}, 1,
                                         evaluator.space)
  supernet.build_architectures(
      os.path.join(root_dir, ARCHITECTURES), evaluator.trainer, evaluator.space, tasks,
      {t: supernet.hyperparameters_of(best[t][0]) for t in tasks})


def search_arguments(root_dir, variant):
  """`runner.search` settings of `variant`, starting from what `root_dir` (a fold or a
  knowledge base) holds."""
  arguments = dict(VARIANTS[variant])
  if arguments.pop('transfer'):
    arguments['init_from'] = os.path.join(root_dir, PRETRAIN)
  arguments.setdefault('controller', 'mnms')
  for key in ('configs_from', 'portfolio', 'architectures', 'hyperparameters_from'):
    if key in arguments:
      arguments[key] = os.path.join(root_dir, arguments[key])
  if reads_value_network([variant]):
    arguments['value_network'] = os.path.join(root_dir, VALUE_NETWORK)
  return arguments


def fit_value_network(root_dir, protocol, task_features):
  """ROOT/value_network: fitted on the pre-training trials (no held-out task's child)."""
  pretrain_dir = os.path.join(root_dir, PRETRAIN)
  space = run_dir_lib.restore_search_space(run_dir_lib.read_info(pretrain_dir))
  tasks = list(protocol.pretraining_tasks) + list(protocol.held_out_tasks)
  return value_network.fit(os.path.join(root_dir, VALUE_NETWORK), [pretrain_dir],
                           {t: task_features.representation(t) for t in tasks}, space)


def finished_runs(root_dir, protocol, task, variant):
  """The run directories of (task, variant) whose search trained its whole budget, in seed
  order: an interrupted experiment is measured on its finished searches only."""
  runs = []
  for seed in range(protocol.seeds):
    run = held_out_dir(root_dir, task, variant, seed)
    if all(os.path.exists(os.path.join(run, f)) for f in (run_dir_lib.RUN_INFO,
                                                          store_lib.FILENAME)) and len(
        analysis.accuracy_curve(run, task)) >= budget_children(protocol, run):
      runs.append(run)
  return runs


def budget_children(protocol, run):
  return protocol.held_out_iterations * run_dir_lib.read_info(run)['children_per_iteration']


def curve(protocol, run, task):
  """The validation accuracies of the run's children for `task`, cut to the budget."""
  return analysis.accuracy_curve(run, task)[:budget_children(protocol, run)]


def measures(root_dir, protocol):
  """task -> {'best_known', 'variants': {variant: {'reach', 'reached', 'first', 'best'}}}
  (lists over the finished searches' seeds), for the held-out tasks with finished searches."""
  results = {}
  for task in protocol.held_out_tasks:
    curves = {v: [curve(protocol, r, task) for r in finished_runs(root_dir, protocol, task, v)]
              for v in protocol.variants}
    curves = {v: c for v, c in curves.items() if c}
    if not curves:
      continue
    best_known = max(c.max() for cs in curves.values() for c in cs)
    target = protocol.reach_fraction * best_known
    variants = {}
    for variant, cs in curves.items():
      reach = [measures_lib.censored_children_to_reach(c, target) for c in cs]
      variants[variant] = {
          'reach': [r for r, _ in reach], 'reached': [ok for _, ok in reach],
          'first': [measures_lib.first_mean(c, protocol.first_children) for c in cs],
          'best': [float(c.max()) for c in cs]}
    results[task] = {'best_known': float(best_known), 'variants': variants}
  return results


def speedups(results, baseline='scratch'):
  """variant -> {task: mean children to reach of the baseline / of the variant}, and the
  geometric mean over tasks under the key None."""
  ratios = {}
  for task, result in results.items():
    variants = result['variants']
    if baseline not in variants:
      continue
    for variant, measured in variants.items():
      if variant != baseline:
        ratios.setdefault(variant, {})[task] = (np.mean(variants[baseline]['reach']) /
                                                np.mean(measured['reach']))
  for by_task in ratios.values():
    by_task[None] = measures_lib.geometric_mean(list(by_task.values()))
  return ratios


def similarity_agreement(similarity, correlation):
  """Spearman rank correlation of two symmetric task-pair matrices over the pairs both
  define (each pair once, finite)."""
  similarity, correlation = np.asarray(similarity), np.asarray(correlation)
  pairs = (np.triu(np.ones_like(similarity, dtype=bool), k=1) & np.isfinite(similarity) &
           np.isfinite(correlation))
  return float(stats.spearmanr(similarity[pairs], correlation[pairs]).statistic)


def inference_measures(root_dir, protocol, representations):
  """task -> what the value network (ROOT/value_network) knew of a held-out task before
  any child of it: Spearman of its predictions against the real accuracies of every child
  stored for the task, the suggested top-1 config's real accuracy (the first child of each
  'suggested' search: one training per seed), the median random config's accuracy (the
  'random' searches), the best of a transfer search's first 8 children, and the best known.
  `representations`: task -> the representation the searches used."""
  network = value_network.load(os.path.join(root_dir, VALUE_NETWORK))
  space = network.space
  results = {}
  for task in protocol.held_out_tasks:
    runs = {v: finished_runs(root_dir, protocol, task, v) for v in protocol.variants}
    rows = [r for rs in runs.values() for run in rs
            for r in _ok_trials_within_budget(protocol, run, task)]
    if not rows:
      continue
    predicted = network.predict(representations[task], value_network.one_hot(
        [space.to_actions(r['config']) for r in rows], space.sizes)).numpy()
    real = [r['val_accuracy'] for r in rows]
    measured = {'spearman': float(stats.spearmanr(predicted, real).statistic),
                'predicted': predicted, 'real': np.array(real),
                'best_known': float(max(curve(protocol, run, task).max()
                                        for rs in runs.values() for run in rs)),
                'trials': len(rows)}
    if runs.get('suggested'):
      top = run_dir_lib.read_info(runs['suggested'][0])['initial_config_list'][task][0]
      measured['suggested'] = top
      measured['suggested_predicted'] = float(network.predict(
          representations[task], value_network.one_hot([space.to_actions(top)],
                                                       space.sizes))[0])
      measured['suggested_accuracy'] = [float(curve(protocol, run, task)[0])
                                        for run in runs['suggested']]
    random = [curve(protocol, run, task) for run in runs.get('random', ())]
    if random:
      measured['median_random'] = float(np.median(np.concatenate(random)))
    transfer = [curve(protocol, run, task)[:8].max() for run in runs.get('transfer', ())]
    if transfer:
      measured['transfer_first_8'] = float(np.mean(transfer))
    results[task] = measured
  return results


def _ok_trials_within_budget(protocol, run, task):
  with store_lib.TrialStore(run, read_only=True) as store:
    rows = store.trials(task=task)[:budget_children(protocol, run)]
  return [r for r in rows if r['status'] == store_lib.OK]
