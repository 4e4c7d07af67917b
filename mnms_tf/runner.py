"""The search loop: sample a task, sample its children, evaluate them, store them, learn.

`search` is handed its parts, like dopamine's `Runner(create_agent_fn,
create_environment_fn)`: a controller factory (`controller.ControllerFactory`: the MNMS
agent or random search) and an evaluator (`evaluators.Children` on worker processes, or
`synthetic.SyntheticChildren`). Each iteration draws one of the search's tasks uniformly
(the paper's multitask schedule), the controller samples `children_per_iteration` configs
for it, the evaluator trains them, each result is committed to the trial store as it
arrives, the controller observes the rewards and takes its learner steps, and a
checkpoint of the controller (weights, optimizers, baselines, replay bank, RNG) and the
iteration is written. The run directory (mnms_tf/run_dir.py) is the record of it all.

Pipelined (`pipelined=True`, the default): iteration i + 1 is sampled and handed to the
evaluator as soon as the controller has learned from iteration i - 1, so workers train its
children while the last, slowest children of iteration i finish instead of waiting at the
iteration barrier (on 2 workers the barrier left them idle ~14% of the time; README). The
price is staleness: iteration i + 1 is sampled by the controller that has learned from
iterations up to i - 1, not i (iterations 0 and 1 both by the initial one). The off-policy
learner weighs every sample by the log-probability of the policy that drew it, which is
stored with it, so stale samples are corrected as the replay bank's older ones are; the
on-policy variant is run synchronously (`pipelined=False`, the paper's loop), as is any run
started so. The results of the two modes differ; each run keeps its own.

Resume is exact: the task of iteration i and the children's seeds derive from (seed, i),
and the controller's RNG and the iterations it sampled but has not learned from yet are
in the checkpoint, so iterations interrupted at any moment continue identically; children
already stored for them are taken from the store, never trained or stored twice. A failed
child (its worker died, it timed out, its loss diverged) is stored as such and is not
trained again on resume either.
"""
import collections
import dataclasses
import os
import time
from typing import Callable, Optional

from absl import logging
import gin
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from mnms_tf import child
from mnms_tf import controller as controller_lib
from mnms_tf import run_dir as run_dir_lib
from mnms_tf import search_space
from mnms_tf import store as store_lib
from mnms_tf import value_network as value_network_lib

RunDirError = run_dir_lib.RunDirError


@dataclasses.dataclass
class Budget:
  """Start no iteration once any limit is reached (None: no limit). `iterations` and
  `children` (those of the iterations before it) count the whole run, resumes included;
  `seconds`, this invocation.
  `until(controller, store, iterations)`, if given, stops the search once it returns
  True (checked after every iteration): e.g. a synthetic task is solved."""
  iterations: Optional[int] = None
  children: Optional[int] = None
  seconds: Optional[float] = None
  until: Optional[Callable] = None

  def exhausted(self, iteration, children, seconds):
    return ((self.iterations is not None and iteration >= self.iterations) or
            (self.children is not None and children >= self.children) or
            (self.seconds is not None and seconds >= self.seconds))


def child_seed(seed, iteration, slot):
  return int(np.random.SeedSequence([seed, iteration, slot]).generate_state(1)[0] >> 1)


def iteration_task(seed, iteration, num_tasks):
  """The index of the task that iteration `iteration` searches: uniform, reproducible."""
  return int(np.random.default_rng([seed, iteration]).integers(num_tasks))


class _Summaries:
  """TensorBoard scalars, the run's HParams (so that `tensorboard --logdir` over many runs
  compares them in one table: what started each, against its per-task best accuracy) and
  the best trial per task, for the progress line."""

  def __init__(self, root_dir, store, tasks):
    self.writer = tf.summary.create_file_writer(os.path.join(root_dir, run_dir_lib.TENSORBOARD))
    self.best = {t: store.best(t) for t in tasks}

  def hparams(self, info):
    """Once, when the run starts."""
    with self.writer.as_default():
      hp.hparams({'controller': info['controller']['kind'], 'seed': info['seed'],
                  'tasks': ','.join(info['tasks']), 'init_from': info['init_from'] or '',
                  'task_embedding_init': info['task_embedding_init'],
                  'initial_configs': info['initial_configs'] or '',
                  'pipelined': info['pipelined']}, trial_id=info['root_dir'])

  def iteration(self, step, task, results, log_probabilities, controller_scalars):
    ok = [r for r in results if r.status == store_lib.OK]
    for r in ok:
      if self.best[task] is None or r.val_accuracy > self.best[task]['val_accuracy']:
        self.best[task] = {'val_accuracy': r.val_accuracy, 'reward': r.reward}
    with self.writer.as_default(step=step):
      scalars = {
          'reward_mean': np.mean([r.reward for r in results]),
          'val_accuracy_mean': np.mean([r.val_accuracy for r in ok]) if ok else 0.0,
          'failed_children': len(results) - len(ok),
          # -mean log pi of the samples estimates the task's policy entropy.
          'entropy': -float(np.mean(log_probabilities)),
      }
      if self.best[task]:
        scalars['val_accuracy_best'] = self.best[task]['val_accuracy']
        scalars['reward_best'] = self.best[task]['reward']
      for name, value in scalars.items():
        tf.summary.scalar(f'{task}/{name}', value)
      for name, value in controller_scalars.items():
        tf.summary.scalar(f'controller/{name}', value)
    self.writer.flush()

  def best_line(self):
    return ', '.join(f'{t} {b["val_accuracy"]:.3f}' if b else f'{t} -'
                     for t, b in self.best.items())


def _eta(budget, iteration, children, elapsed, iterations_done, children_per_iteration):
  if not iterations_done:
    return '?'
  per_iteration = elapsed / iterations_done
  remaining = []
  if budget.iterations is not None:
    remaining.append((budget.iterations - iteration) * per_iteration)
  if budget.children is not None:
    remaining.append(-(-(budget.children - children) // children_per_iteration) * per_iteration)
  if budget.seconds is not None:
    remaining.append(budget.seconds - elapsed)
  if not remaining:
    return 'unbounded'
  seconds = max(0.0, min(remaining))
  return f'{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m{int(seconds % 60):02d}s'


def _check_tasks(tasks):
  if not tasks:
    raise RunDirError("No tasks to search: bind search.tasks, e.g. "
                      "search.tasks = ['spanish_langid', 'rt_snippets']")
  tasks = list(tasks)
  if len(set(tasks)) != len(tasks):
    raise RunDirError(f'search.tasks lists a task twice: {tasks}')
  return tasks


def _initial_controller(info, create_controller, sizes, has_checkpoint):
  """The controller to restore a checkpoint into, or to start from: a fresh one, or for a
  transfer without a checkpoint yet, the source run's with new tasks' embeddings added
  (random or warm-started: `task_embedding_init`)."""
  if has_checkpoint or not info['init_from']:
    return create_controller(info['controller_tasks'], sizes, info['seed'])
  pretrained = run_dir_lib.restore_controller(info['init_from'])
  if pretrained.sizes != tuple(sizes):
    raise RunDirError(f'--init_from={info["init_from"]} searched another search space')
  new_tasks = [t for t in info['tasks'] if t not in pretrained.task_names]
  weights = _embedding_weights(info, new_tasks, pretrained.task_names)
  logging.info('Transfer from %s: new tasks %s, task embeddings %s', info['init_from'],
               new_tasks, info['task_embedding_init'])
  return pretrained.with_new_tasks(new_tasks, seed=info['seed'],
                                   settings=create_controller.agent, embedding_weights=weights)


TASK_EMBEDDING_INITS = ('random', 'nearest', 'similarity_weighted')


def _embedding_weights(info, new_tasks, old_tasks):
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


INITIAL_CONFIGS = (None, 'nearest_best', 'suggested')


def _nearest_best_configs(source_dir, similarities, count, space):
  """new task -> the `count` best distinct configs (by validation accuracy, then search
  order) stored in `source_dir` for its most similar pre-training task."""
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


def _first_iterations(seed, tasks):
  """task -> the first iteration that searches it."""
  first, i = {}, 0
  while len(first) < len(tasks):
    first.setdefault(tasks[iteration_task(seed, i, len(tasks))], i)
    i += 1
  return first


def _suggested_configs(model_dir, evaluator, tasks, count, space):
  """new task -> the `count` configs the value network rates best for it."""
  network = value_network_lib.load(model_dir)
  if network.space.describe() != space.describe():
    raise RunDirError(f'The value network in {model_dir} was fitted on another search space')
  return {task: [config for config, _ in network.suggest(
      evaluator.task_representation(task), top_k=count)] for task in tasks}


def _task_similarities(evaluator, tasks, known_tasks):
  """new task -> {pre-training task: similarity} (`evaluator.task_similarity`), recorded in
  run.json so that the warm start is plain to see and a resume needs no recomputing."""
  return {new: {old: float(evaluator.task_similarity(new, old)) for old in known_tasks}
          for new in tasks if new not in known_tasks}


@gin.configurable(denylist=['root_dir', 'budget', 'evaluator'])
def search(root_dir, budget, evaluator, tasks=None, create_controller=None,
           children_per_iteration=8, seed=0, reuse_evaluated=False, init_from=None,
           checkpoint_every=1, pipelined=True, task_embedding_init='random',
           task_embedding_temperature=0.1, initial_configs=None, num_initial_configs=4,
           value_network=None, configs_from=None):
  """Runs (or resumes) a search in `root_dir` until `budget` runs out; returns its summary.

  Args:
    root_dir: the run directory (mnms_tf/run_dir.py), created or resumed.
    budget: a `Budget`.
    evaluator: trains the children (`evaluators.Evaluator`).
    tasks: names of the tasks searched for, drawn uniformly each iteration.
    create_controller: a `controller.ControllerFactory` (default: from gin; the MNMS agent).
    children_per_iteration: configs sampled and evaluated per iteration.
    seed: seeds the controller, the task schedule and every child.
    reuse_evaluated: a (task, child) trained before in this run (the same canonical config,
      see search_space.py) is copied from the store instead of trained again (its row says
      `reused_from`); only from iterations complete when its own was sampled, so that
      the choice does not depend on timing (pipelined: not the iteration just before).
    init_from: a finished or running MNMS search directory whose controller starts this
      one (transfer: new tasks get new embeddings, see `task_embedding_init`; the replay
      bank starts empty).
    checkpoint_every: iterations between checkpoints (and one when the search stops). A
      resume from an older checkpoint replays the stored iterations since, identically,
      so this trades only replay time for checkpoint time: synthetic searches, whose
      children cost nothing, set it higher.
    pipelined: sample iteration i + 1 before learning from iteration i, so that workers
      train its children while iteration i's last ones finish (see the module doc); False
      is the paper's synchronous loop. A run keeps the mode it started with.
    task_embedding_init: how a transfer's new tasks' embeddings start: 'random' (the
      paper), 'nearest' (the learned embedding of the most similar pre-training task, by
      `evaluator.task_similarity`: warm-started transfer, arXiv 2205.06355) or
      'similarity_weighted' (the softmax of similarities / `task_embedding_temperature`
      over the pre-training tasks' embeddings). The similarities go to run.json.
    initial_configs: None, or 'nearest_best': a transfer's new task evaluates, in the first
      slots of its first iteration, the `num_initial_configs` best distinct configs that
      the source run stored for its most similar pre-training task (what Optuna's
      `enqueue_trial` and Ray Tune's `points_to_evaluate` offer by hand). The controller
      learns from them with their log-probabilities under its policy. They go to run.json.
      'suggested': every task the controller does not know yet (all, from scratch) first
      evaluates the `num_initial_configs` configs that `value_network` rates best for it
      (arXiv 1902.05781; value_network.py).
    value_network: with initial_configs='suggested', a fitted value network's directory
      (`value_network.fit`, or `mnms_tf.bin.suggest --model_dir`).
    configs_from: with initial_configs='nearest_best', for a search that does not transfer
      (any controller kind, e.g. Optuna's TPE warm-started by hand as its users do), the
      finished or running search whose stored trials give the configs (a transfer takes
      them from init_from).
  """
  tasks = _check_tasks(tasks)
  create_controller = create_controller or controller_lib.ControllerFactory()
  if create_controller.kind != 'mnms' and init_from:
    raise RunDirError('Only an MNMS controller can be transferred: drop init_from')
  evaluator.check_tasks(tasks)
  if task_embedding_init not in TASK_EMBEDDING_INITS:
    raise RunDirError(f'search.task_embedding_init must be one of {TASK_EMBEDDING_INITS}, '
                      f'got {task_embedding_init!r}')
  if initial_configs not in INITIAL_CONFIGS:
    raise RunDirError(f'search.initial_configs must be one of {INITIAL_CONFIGS}, got '
                      f'{initial_configs!r}')
  if not 1 <= num_initial_configs <= children_per_iteration:
    raise RunDirError(f'search.num_initial_configs must be between 1 and '
                      f'children_per_iteration ({children_per_iteration}), got '
                      f'{num_initial_configs}')
  if (initial_configs == 'suggested') != (value_network is not None):
    raise RunDirError("search.initial_configs = 'suggested' and search.value_network go "
                      "together: give both or neither")
  if configs_from and (init_from or initial_configs != 'nearest_best'):
    raise RunDirError("search.configs_from is where a search that does not transfer takes "
                      "its 'nearest_best' initial configs: give it with initial_configs = "
                      "'nearest_best' and without init_from")
  known_tasks = _known_tasks(init_from)  # checks the source before writing
  # A transferred controller's old tasks come first.
  controller_tasks = known_tasks + [t for t in tasks if t not in known_tasks]
  space = search_space.SearchSpace()
  run = run_dir_lib.RunDir(root_dir)
  with run.lock():
    stored = run.info()
    wanted = dict(
        format=run_dir_lib.FORMAT, tasks=tasks, seed=seed,
        children_per_iteration=children_per_iteration, reuse_evaluated=reuse_evaluated,
        # A resumed transfer need not name its source again.
        init_from=os.path.abspath(init_from) if init_from else (stored or {}).get('init_from'),
        pipelined=pipelined, task_embedding_init=task_embedding_init,
        task_embedding_temperature=task_embedding_temperature,
        initial_configs=initial_configs, num_initial_configs=num_initial_configs,
        value_network=os.path.abspath(value_network) if value_network else None,
        configs_from=os.path.abspath(configs_from) if configs_from else None,
        search_space=space.describe(), controller=create_controller.describe(),
        evaluator=evaluator.describe(tasks, space))
    if stored is not None:
      stored.setdefault('pipelined', False)  # runs from before pipelining were synchronous
      stored.setdefault('task_embedding_init', 'random')  # and from before warm starts
      stored.setdefault('task_embedding_temperature', task_embedding_temperature)
      stored.setdefault('initial_configs', None)
      stored.setdefault('num_initial_configs', num_initial_configs)
      stored.setdefault('value_network', None)
      stored.setdefault('configs_from', None)
      if 'trainer' in stored['evaluator']:  # children from before it never trained it
        stored['evaluator']['trainer'].setdefault('whole_vocabulary_share', None)
      run.check_resume(stored, wanted)
      info = stored
    else:
      if task_embedding_init != 'random' and not wanted['init_from']:
        raise RunDirError("search.task_embedding_init warm-starts a transfer: give init_from "
                          "(a pre-trained MNMS run), or leave it at 'random'")
      if initial_configs == 'nearest_best' and not (init_from or configs_from):
        raise RunDirError("search.initial_configs = 'nearest_best' takes configs from a past "
                          "search: give init_from (a transfer) or configs_from")
      source_tasks = (run_dir_lib.read_info(configs_from)['tasks'] if configs_from else
                      known_tasks)
      warm = task_embedding_init != 'random' or initial_configs == 'nearest_best'
      similarities = _task_similarities(evaluator, tasks, source_tasks) if warm else None
      if initial_configs == 'nearest_best':
        configs = _nearest_best_configs(init_from or configs_from, similarities,
                                        num_initial_configs, space)
      elif initial_configs == 'suggested':
        configs = _suggested_configs(value_network, evaluator,
                                     [t for t in tasks if t not in known_tasks],
                                     num_initial_configs, space)
      else:
        configs = None
      info = run.create(dict(wanted, controller_tasks=controller_tasks,
                             task_similarities=similarities, initial_config_list=configs))
    return _search_loop(run, info, budget, evaluator, create_controller, space,
                        checkpoint_every)


def _known_tasks(init_from):
  """The tasks the source run's controller knows (none without a source)."""
  if not init_from:
    return []
  source = run_dir_lib.read_info(init_from)
  if source['controller']['kind'] != 'mnms':
    raise RunDirError(f'--init_from={init_from} is a {source["controller"]["kind"]} search; '
                      f'only an MNMS controller can be transferred')
  return source['controller_tasks']


@dataclasses.dataclass
class _Iteration:
  """A sampled iteration; once started, its children's results as they arrive."""
  index: int
  task: str
  task_indices: list
  actions: np.ndarray
  log_probabilities: np.ndarray
  results: Optional[list] = None  # per slot, a ChildResult or None; None: not started
  started_at: Optional[float] = None

  def complete(self):
    return self.results is not None and all(r is not None for r in self.results)


class _SampledAhead(tf.Module):
  """The iterations sampled but not yet learned from (their actions and the behaviour
  log-probabilities learned with), checkpointed so that a resume continues them exactly."""

  def __init__(self, depth, width, num_parameters):
    super().__init__(name='sampled_ahead')
    self.count = tf.Variable(0, dtype=tf.int64)
    self.actions = tf.Variable(tf.zeros([depth, width, num_parameters], tf.int64))
    self.log_probabilities = tf.Variable(tf.zeros([depth, width], tf.float32))

  def write(self, iterations):
    iterations = list(iterations)
    actions, log_probabilities = self.actions.numpy(), self.log_probabilities.numpy()
    for k, it in enumerate(iterations):
      actions[k], log_probabilities[k] = it.actions, it.log_probabilities
    self.actions.assign(actions)
    self.log_probabilities.assign(log_probabilities)
    self.count.assign(len(iterations))

  def read(self):
    """[(actions, log_probabilities)] of the sampled iterations, oldest first."""
    return [(self.actions[k].numpy(), self.log_probabilities[k].numpy())
            for k in range(int(self.count))]


def _search_loop(run, info, budget, evaluator, create_controller, space, checkpoint_every):
  tasks, seed, width = info['tasks'], info['seed'], info['children_per_iteration']
  # Pipelined, iteration i + 1 is sampled before iteration i is learned from (module doc).
  lookahead = 1 if info['pipelined'] else 0
  iteration = tf.Variable(0, dtype=tf.int64)
  ahead = _SampledAhead(lookahead + 1, width, len(space.sizes))
  checkpoint_dir = run.path(run_dir_lib.CHECKPOINTS)
  has_checkpoint = tf.train.latest_checkpoint(checkpoint_dir) is not None
  controller = _initial_controller(info, create_controller, space.sizes, has_checkpoint)
  checkpointer = run_dir_lib.Checkpointer(
      checkpoint_dir, run_dir_lib.controller_checkpoint(controller, iteration, ahead))
  if checkpointer.restore('the search state'):
    logging.info('Resuming %s at iteration %d', run.root_dir, int(iteration))

  first_iterations = _first_iterations(seed, tasks)
  initial_configs = info.get('initial_config_list') or {}

  def new_iteration(index, actions=None, log_probabilities=None):
    task = tasks[iteration_task(seed, index, len(tasks))]
    task_indices = [controller.task_index(task)] * width
    if actions is None:
      actions, log_probabilities = controller.sample(task_indices)
      if first_iterations[task] == index and initial_configs.get(task):
        given = np.array([space.to_actions(c) for c in initial_configs[task]])
        actions, log_probabilities = np.array(actions), np.array(log_probabilities)
        actions[:len(given)] = given
        log_probabilities[:len(given)] = controller.log_probabilities(
            task_indices[:len(given)], given)
    return _Iteration(index, task, task_indices, np.asarray(actions, np.int64),
                      np.asarray(log_probabilities, np.float32))

  sampled = collections.deque(new_iteration(int(iteration) + k, *restored)
                              for k, restored in enumerate(ahead.read()))
  while len(sampled) <= lookahead:
    sampled.append(new_iteration(int(iteration) + len(sampled)))

  def save():
    ahead.write(sampled)
    checkpointer.save(int(iteration))
    return int(iteration)

  store = store_lib.TrialStore(run.root_dir)
  summaries = _Summaries(run.root_dir, store, tasks)
  if int(iteration) == 0 and not has_checkpoint:
    summaries.hparams(dict(info, root_dir=run.root_dir))
  started, done, stopped_by = time.time(), 0, 'budget'
  saved = int(iteration)

  def start_what_the_budget_allows():
    for it in sampled:
      if it.results is None:
        if budget.exhausted(it.index, it.index * width, time.time() - started):
          return
        _start(store, evaluator, it, space, seed, info['reuse_evaluated'],
               reuse_before=it.index - lookahead)

  with store:
    start_what_the_budget_allows()
    while sampled[0].results is not None:
      it = sampled[0]
      while not it.complete():
        (index, slot), result, worker = evaluator.next_result()
        owner = next(s for s in sampled if s.index == index)
        owner.results[slot] = result
        store.add(index, slot, result, worker, owner.started_at)
      i, results = it.index, it.results
      rewards = np.array([r.reward for r in results], np.float32)
      controller.observe(it.task_indices, it.actions, rewards, it.log_probabilities, i)
      scalars = controller.train()
      sampled.popleft()
      sampled.append(new_iteration(i + lookahead + 1))
      iteration.assign(i + 1)
      if (i + 1) % checkpoint_every == 0:
        saved = save()
      if done == 0:
        run.write_operative_config()
      done += 1
      summaries.iteration(i, it.task, results, it.log_probabilities, scalars)
      failed = sum(r.status != store_lib.OK for r in results)
      logging.info(
          'iteration %d %s: val %.3f mean, %.3f best of %d%s | %d children | best: %s | '
          '%.1fs/iteration, ETA %s', i + 1, it.task,
          np.mean([r.val_accuracy for r in results]), max(r.val_accuracy for r in results),
          len(results), f' ({failed} failed)' if failed else '', store.count(),
          summaries.best_line(), (time.time() - started) / done,
          _eta(budget, i + 1, (i + 1) * width, time.time() - started, done, width))
      if budget.until is not None and budget.until(controller, store, i + 1):
        stopped_by = 'until'
        break
      start_what_the_budget_allows()
    evaluator.cancel()  # children of an iteration sampled ahead that the search stops before
    if saved != int(iteration):
      save()
    summary = {'root_dir': run.root_dir, 'iterations': int(iteration),
               'children': store.count(), 'stopped_by': stopped_by, 'controller': controller,
               'best': {t: store.best(t) for t in tasks}}
  summaries.writer.close()
  logging.info('Search stopped after %d iterations, %d children; best validation accuracy: %s',
               summary['iterations'], summary['children'], summaries.best_line())
  return summary


def _start(store, evaluator, it, space, seed, reuse_evaluated, reuse_before):
  """Starts an iteration: stored children are taken from the store, children trained
  before (with `reuse_evaluated`, in an iteration before `reuse_before`) are copied, and
  the rest are submitted to the evaluator (each stored the moment it finishes)."""
  configs = [space.to_config(a) for a in it.actions]
  stored = store.iteration(it.index)
  it.results, it.started_at = [None] * len(configs), time.time()
  for slot, config in enumerate(configs):
    if slot in stored:
      row = stored[slot]
      if row['task'] != it.task or row['config'] != config:
        raise RunDirError(
            f'Iteration {it.index} slot {slot} is stored as {row["task"]} {row["config"]}, '
            f'but the restored controller samples {it.task} {config}: the run directory does '
            f'not match its checkpoint (was the search changed?). Nothing was overwritten.')
      it.results[slot] = _result_from_row(row)
      continue
    previous = (store.evaluated(it.task, space.config_hash(config), reuse_before)
                if reuse_evaluated else None)
    if previous is not None:
      it.results[slot] = dataclasses.replace(_result_from_row(previous), config=config)
      store.add(it.index, slot, it.results[slot], 'store', it.started_at,
                reused_from=previous['id'])
      continue
    evaluator.submit((it.index, slot), (it.task, config, child_seed(seed, it.index, slot)))


def _result_from_row(row):
  return child.ChildResult(
      task=row['task'], config=row['config'], config_hash=row['config_hash'], seed=row['seed'],
      status=row['status'], message=row['message'], val_accuracy=row['val_accuracy'],
      test_accuracy=row['test_accuracy'], reward=row['reward'], total_seconds=row['seconds'])
