"""How a search starts from what earlier searches learned: the one place that decides it.

A transfer (`init_from`, the paper) starts from a pre-trained MNMS controller, each new task
getting a task embedding: random (the paper), the embedding of its most similar
pre-training task (`'nearest'`: warm-started transfer, arXiv 2205.06355) or the softmax of
similarities over the pre-training tasks' embeddings (`'similarity_weighted'`). Any search
may also evaluate given configs first (`initial_configs`): the best stored configs of the
most similar earlier task (`'nearest_best'`, what Optuna's `enqueue_trial` offers by hand),
or those a value network fitted on earlier searches rates best (`'suggested'`, arXiv
1902.05781), or a zero-shot portfolio's (`'portfolio'`, transfer/portfolio.py). A
differentiable search (controllers/differentiable.py) may start its architecture weights
from the most similar earlier task's supernet or from a meta-architecture learned over all
of them (`architecture_init`: arXiv 2205.06355), and take the parameters that do not relax
from the most similar earlier task's best config (`hyperparameters_from`). Similarities
come from a task-features service (`data.features.TaskFeatures`, or synthetic ones); what
this module decides goes to run.json (`plan`), so that a resume and a reader see the warm
start without recomputing it.
"""
import dataclasses
import os
from typing import Optional

from absl import logging
import numpy as np

from mnms_tf.children import supernet as supernet_lib
from mnms_tf.search import restore
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import portfolio as portfolio_lib
from mnms_tf.transfer import value_network as value_network_lib

RunDirError = run_dir_lib.RunDirError
TASK_EMBEDDING_INITS = ('random', 'nearest', 'similarity_weighted')
INITIAL_CONFIGS = (None, 'nearest_best', 'suggested', 'portfolio')
ARCHITECTURE_INITS = (None, 'nearest', 'meta')


@dataclasses.dataclass(frozen=True)
class WarmStart:
  """A search's warm-start settings (gin: `search.*`, see runner.SearchSettings).

  task_embedding_init: a transfer's new task embeddings, one of TASK_EMBEDDING_INITS.
  task_embedding_temperature: of 'similarity_weighted'.
  initial_configs: one of INITIAL_CONFIGS: configs each new task evaluates first, in the
    first slots of the first iteration that searches it; the controller learns from them
    with their log-probabilities under its policy.
  num_initial_configs: how many.
  value_network: with 'suggested' (or model-assisted sampling: search/proposals.py), a
    fitted value network's directory.
  configs_from: with 'nearest_best' and no transfer, the past search whose stored trials
    give the configs (a transfer takes them from init_from).
  portfolio: with 'portfolio', a portfolio file (transfer/portfolio.py): its first
    `num_initial_configs` configs, the same for every new task.
  architecture_init: a differentiable search's architecture weights (and hidden layers,
    with `differentiable_search.init_weights`): one of ARCHITECTURE_INITS; None: cold.
  architectures: with architecture_init, a directory of saved architecture searches
    (supernet.build_architectures): one per earlier task and their meta-architecture.
  hyperparameters_from: a past search whose stored trials give a differentiable search's
    learning rate, length and l2: the best config's of the most similar task there.
  """
  task_embedding_init: str = 'random'
  task_embedding_temperature: float = 0.1
  initial_configs: Optional[str] = None
  num_initial_configs: int = 4
  value_network: Optional[str] = None
  configs_from: Optional[str] = None
  portfolio: Optional[str] = None
  architecture_init: Optional[str] = None
  architectures: Optional[str] = None
  hyperparameters_from: Optional[str] = None

  def check(self, init_from, children_per_iteration, assisted=False):
    """RunDirError for settings that cannot work together; writes nothing (`assisted`:
    the search's proposals read the value network too)."""
    if self.task_embedding_init not in TASK_EMBEDDING_INITS:
      raise RunDirError(f'search.task_embedding_init must be one of {TASK_EMBEDDING_INITS}, '
                        f'got {self.task_embedding_init!r}')
    if self.initial_configs not in INITIAL_CONFIGS:
      raise RunDirError(f'search.initial_configs must be one of {INITIAL_CONFIGS}, got '
                        f'{self.initial_configs!r}')
    if not 1 <= self.num_initial_configs <= children_per_iteration:
      raise RunDirError(f'search.num_initial_configs must be between 1 and '
                        f'children_per_iteration ({children_per_iteration}), got '
                        f'{self.num_initial_configs}')
    if (self.initial_configs == 'suggested' or assisted) != (self.value_network is not None):
      raise RunDirError("search.value_network is read by initial_configs = 'suggested' and by "
                        "candidates_per_slot > 1: give it with one of them, or neither")
    if self.configs_from and (init_from or self.initial_configs != 'nearest_best'):
      raise RunDirError("search.configs_from is where a search that does not transfer takes "
                        "its 'nearest_best' initial configs: give it with initial_configs = "
                        "'nearest_best' and without init_from")
    if (self.initial_configs == 'portfolio') != (self.portfolio is not None):
      raise RunDirError("search.initial_configs = 'portfolio' and search.portfolio go "
                        "together: give both or neither")
    if self.architecture_init not in ARCHITECTURE_INITS:
      raise RunDirError(f'search.architecture_init must be one of {ARCHITECTURE_INITS}, got '
                        f'{self.architecture_init!r}')
    if (self.architecture_init is None) != (self.architectures is None):
      raise RunDirError('search.architecture_init and search.architectures go together: give '
                        'both or neither')

  def record(self):
    """The settings as run.json holds them (directories absolute)."""
    fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(WarmStart)}
    for key in ('value_network', 'configs_from', 'portfolio', 'architectures',
                'hyperparameters_from'):
      fields[key] = os.path.abspath(fields[key]) if fields[key] else None
    return fields


def known_tasks(init_from):
  """The tasks the source run's controller knows (none without a source)."""
  if not init_from:
    return []
  source = run_dir_lib.read_info(init_from)
  if source['controller']['kind'] != 'mnms':
    raise RunDirError(f'--init_from={init_from} is a {source["controller"]["kind"]} search; '
                      f'only an MNMS controller can be transferred')
  return source['controller_tasks']


def plan(warm, tasks, init_from, source_tasks_known, task_features, space):
  """What a new run records of its warm start: {'task_similarities': new task ->
  {source task: similarity} or None, 'initial_config_list': task -> configs or None}."""
  if warm.task_embedding_init != 'random' and not init_from:
    raise RunDirError("search.task_embedding_init warm-starts a transfer: give init_from "
                      "(a pre-trained MNMS run), or leave it at 'random'")
  if warm.initial_configs == 'nearest_best' and not (init_from or warm.configs_from):
    raise RunDirError("search.initial_configs = 'nearest_best' takes configs from a past "
                      "search: give init_from (a transfer) or configs_from")
  needs_similarities = (warm.task_embedding_init != 'random' or
                        warm.initial_configs == 'nearest_best')
  similarities = None
  if needs_similarities:
    source_tasks = (run_dir_lib.read_info(warm.configs_from)['tasks'] if warm.configs_from
                    else source_tasks_known)
    similarities = _features(task_features).similarities(
        [t for t in tasks if t not in source_tasks], source_tasks)
  configs = None
  if warm.initial_configs == 'nearest_best':
    configs = nearest_best_configs(init_from or warm.configs_from, similarities,
                                   warm.num_initial_configs, space)
  elif warm.initial_configs == 'suggested':
    configs = suggested_configs(warm.value_network, _features(task_features),
                                [t for t in tasks if t not in source_tasks_known],
                                warm.num_initial_configs, space)
  elif warm.initial_configs == 'portfolio':
    given = [space.validate(c) for c in portfolio_lib.read(warm.portfolio)]
    configs = {task: given[:warm.num_initial_configs] for task in tasks
               if task not in source_tasks_known}
  new_tasks = [t for t in tasks if t not in source_tasks_known]
  return {'task_similarities': similarities, 'initial_config_list': configs,
          'architecture_sources': architecture_sources(warm, new_tasks, task_features, space)}


def architecture_sources(warm, tasks, task_features, space):
  """task -> {'init': the saved architecture search its supernet starts from (None: cold),
  'hyperparameters': its values of the parameters that do not relax (None: the
  controller's)}; None when the search has neither."""
  if not (warm.architecture_init or warm.hyperparameters_from):
    return None
  sources = {task: {'init': None, 'hyperparameters': None} for task in tasks}
  if warm.architecture_init == 'meta':
    for task in tasks:
      sources[task]['init'] = os.path.join(os.path.abspath(warm.architectures),
                                           supernet_lib.META)
  elif warm.architecture_init == 'nearest':
    known = supernet_lib.searched_tasks(warm.architectures)
    similarities = _features(task_features).similarities(tasks, known)
    for task in tasks:
      sources[task]['init'] = os.path.join(os.path.abspath(warm.architectures),
                                           max(similarities[task], key=similarities[task].get))
  if warm.hyperparameters_from:
    with store_lib.TrialStore(warm.hyperparameters_from, read_only=True) as store:
      known = sorted({r['task'] for r in store.trials(status=store_lib.OK)})
    if not known:
      raise RunDirError(f'search.hyperparameters_from: {warm.hyperparameters_from} holds no '
                        f'successful child to take a learning rate, length and l2 from')
    best = nearest_best_configs(warm.hyperparameters_from,
                                _features(task_features).similarities(tasks, known), 1, space)
    for task in tasks:
      sources[task]['hyperparameters'] = supernet_lib.hyperparameters_of(best[task][0])
  for task in tasks:
    if sources[task]['init']:
      supernet_lib.load_architecture(sources[task]['init'], space)  # refused now, not later
  return sources


def _features(task_features):
  if task_features is None:
    raise RunDirError('This warm start compares tasks: the search needs a task-features '
                      'service (data.features.TaskFeatures)')
  return task_features


def nearest_best_configs(source_dir, similarities, count, space):
  """new task -> the `count` best distinct configs (by validation accuracy, then search
  order) stored in `source_dir` for its most similar source task."""
  chosen = {}
  with store_lib.TrialStore(source_dir, read_only=True) as store:
    for new, by_task in similarities.items():
      nearest = max(by_task, key=by_task.get)
      rows = sorted(store.trials(task=nearest, status=store_lib.OK),
                    key=lambda r: (-r['val_accuracy'], r['iteration'], r['slot']))
      distinct = {}
      for row in rows:
        distinct.setdefault(space.config_hash(row['config']), space.validate(row['config']))
      chosen[new] = list(distinct.values())[:count]
  return chosen


def suggested_configs(model_dir, task_features, tasks, count, space):
  """task -> the `count` configs the value network in `model_dir` rates best for it."""
  network = value_network_lib.load(model_dir)
  if network.space.describe() != space.describe():
    raise RunDirError(f'The value network in {model_dir} was fitted on another search space')
  return {task: [config for config, _ in network.suggest(
      task_features.representation(task), top_k=count)] for task in tasks}


def initial_controller(info, create_controller, space, has_checkpoint, trainer=None):
  """The controller to restore a checkpoint into, or to start from: a fresh one, or for a
  transfer without a checkpoint yet, the source run's with new tasks' embeddings added.
  `trainer`: the search's child trainer, for a controller that trains (a supernet)."""
  if has_checkpoint or not info['init_from']:
    return create_controller(info['controller_tasks'], space, info['seed'], trainer=trainer,
                             sources=info.get('architecture_sources'))
  pretrained = restore.restore_controller(info['init_from'])
  if pretrained.sizes != tuple(space.sizes):
    raise RunDirError(f'--init_from={info["init_from"]} searched another search space')
  new_tasks = [t for t in info['tasks'] if t not in pretrained.task_names]
  weights = embedding_weights(info, new_tasks, pretrained.task_names)
  logging.info('Transfer from %s: new tasks %s, task embeddings %s', info['init_from'],
               new_tasks, info['task_embedding_init'])
  return pretrained.with_new_tasks(new_tasks, seed=info['seed'],
                                   settings=create_controller.agent, embedding_weights=weights)


def embedding_weights(info, new_tasks, old_tasks):
  """[new, old] weights of the old tasks' embeddings in each new task's first one, or None
  for random embeddings (the paper)."""
  if info['task_embedding_init'] == 'random' or not new_tasks:
    return None
  similarities = np.array([[info['task_similarities'][new][old] for old in old_tasks]
                           for new in new_tasks])
  if info['task_embedding_init'] == 'nearest':
    return np.eye(len(old_tasks))[similarities.argmax(axis=1)]
  logits = similarities / info['task_embedding_temperature']
  weights = np.exp(logits - logits.max(axis=1, keepdims=True))
  return weights / weights.sum(axis=1, keepdims=True)


def first_configs(info):
  """task -> the configs it evaluates first (none for most tasks)."""
  return info.get('initial_config_list') or {}
