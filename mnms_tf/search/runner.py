"""The search loop: sample a task, sample its children, evaluate them, store them, learn.

`search` is handed its parts, like dopamine's `Runner(create_agent_fn,
create_environment_fn)`: a controller factory (`controllers.factory.ControllerFactory`: the
MNMS agent, random search or a peer), an evaluator (`evaluators.Children` on worker
processes or Ray actors, or `synthetic.SyntheticChildren`) and, for warm starts, a
task-features service. Where a transfer starts and which configs go first is decided by
mnms_tf/transfer/warm_start.py; what each iteration's slots hold (the controller's samples,
re-trains, a value network's picks) by proposals.py; the run directory's record by
run_dir.py; checkpoints by checkpoints.py; the runner only runs the loop.

Each iteration draws one of the search's tasks uniformly (the paper's multitask schedule),
the controller samples `children_per_iteration` configs for it, the evaluator trains them,
each result is committed to the trial store as it arrives, the controller observes the
rewards and takes its learner steps, and a checkpoint of the controller (weights,
optimizers, baselines, replay bank, RNG) and the iteration is written. The run directory
(run_dir.py) is the record of it all.

Pipelined (`pipelined=True`, the default): iteration i + 1 is sampled and handed to the
evaluator as soon as the controller has learned from iteration i - 1, so workers train its
children while the last, slowest children of iteration i finish instead of waiting at the
iteration barrier (on 2 workers the barrier left them idle ~14% of the time;
docs/benchmarks.md). The
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
from typing import Callable, Optional, Sequence

from absl import logging
import gin
import numpy as np
import tensorflow as tf

from mnms_tf.controllers import factory as controller_lib
from mnms_tf.search import checkpoints
from mnms_tf.search import proposals
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib
from mnms_tf.search import summaries as summaries_lib
from mnms_tf.transfer import warm_start

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


@gin.configurable('search')
@dataclasses.dataclass(frozen=True)
class SearchSettings(warm_start.WarmStart, proposals.ProposalSettings):
  """What decides a search's trials (gin: `search.*`; all but `checkpoint_every` go to
  run.json), with the warm-start and slot-filling settings it inherits
  (transfer/warm_start.py, search/proposals.py).

  tasks: names of the tasks searched for, drawn uniformly each iteration.
  children_per_iteration: configs sampled and evaluated per iteration.
  seed: seeds the controller, the task schedule and every child.
  reuse_evaluated: a (task, child) trained before in this run (the same canonical config,
    see children/space.py) is copied from the store instead of trained again (its row says
    `reused_from`); only from iterations complete when its own was sampled, so that the
    choice does not depend on timing (pipelined: not the iteration just before).
  init_from: a finished or running MNMS search directory whose controller starts this one
    (transfer: new tasks get new embeddings; the replay bank starts empty).
  checkpoint_every: iterations between checkpoints (and one when the search stops). A
    resume from an older checkpoint replays the stored iterations since, identically, so
    this trades only replay time for checkpoint time.
  pipelined: sample iteration i + 1 before learning from iteration i (module doc); False
    is the paper's synchronous loop, which on-policy REINFORCE needs. A run keeps its mode.
  """
  tasks: Sequence[str] = ()
  children_per_iteration: int = 8
  seed: int = 0
  reuse_evaluated: bool = False
  init_from: Optional[str] = None
  checkpoint_every: int = 1
  pipelined: bool = True

  def check(self, create_controller):
    """RunDirError for settings that cannot work; writes nothing."""
    if not self.tasks:
      raise RunDirError("No tasks to search: bind search.tasks, e.g. "
                        "search.tasks = ['spanish_langid', 'rt_snippets']")
    if len(set(self.tasks)) != len(self.tasks):
      raise RunDirError(f'search.tasks lists a task twice: {list(self.tasks)}')
    if create_controller.kind != 'mnms' and self.init_from:
      raise RunDirError('Only an MNMS controller can be transferred: drop init_from')
    if create_controller.kind != 'darts' and (self.architecture_init or
                                              self.hyperparameters_from):
      raise RunDirError('search.architecture_init and search.hyperparameters_from start a '
                        "differentiable search: bind ControllerFactory.kind = 'darts'")
    if create_controller.synchronous_only and self.pipelined:
      raise RunDirError('On-policy REINFORCE learns from samples of the policy it updates: '
                        'bind search.pipelined = False (the synchronous loop)')
    super().check(self.init_from, self.children_per_iteration, self.assisted)
    self.check_proposals(create_controller.kind, self.children_per_iteration,
                         self.reuse_evaluated)


def child_seed(seed, iteration, slot):
  return int(np.random.SeedSequence([seed, iteration, slot]).generate_state(1)[0] >> 1)


def iteration_task(seed, iteration, num_tasks):
  """The index of the task that iteration `iteration` searches: uniform, reproducible."""
  return int(np.random.default_rng([seed, iteration]).integers(num_tasks))


def search(root_dir, budget, evaluator, create_controller=None, task_features=None,
           **settings):
  """Runs (or resumes) a search in `root_dir` until `budget` runs out; returns its summary.

  Args:
    root_dir: the run directory (run_dir.py), created or resumed.
    budget: a `Budget`.
    evaluator: trains the children of `evaluator.space` (evaluation/evaluators.py).
    create_controller: a `ControllerFactory` (default: from gin; the MNMS agent).
    task_features: what warm starts compare tasks with (data.features.TaskFeatures).
    **settings: `SearchSettings` fields, overriding gin's.
  """
  settings = SearchSettings(**settings)
  create_controller = create_controller or controller_lib.ControllerFactory()
  settings.check(create_controller)
  evaluator.check_tasks(list(settings.tasks))
  known_tasks = warm_start.known_tasks(settings.init_from)  # checks the source before writing
  run = run_dir_lib.RunDir(root_dir)
  with run.lock():
    info = _start_or_resume(run, settings, known_tasks, create_controller, evaluator,
                            task_features)
    loop = _SearchLoop(run, info, evaluator, create_controller, settings.checkpoint_every)
    return loop.run(budget)


def _start_or_resume(run, settings, known_tasks, create_controller, evaluator, task_features):
  """run.json of the run: the stored one if its settings are those asked for, or a new one
  with its warm start decided (`known_tasks`: those of the transfer's source controller)."""
  tasks = list(settings.tasks)
  stored = run.info()
  wanted = dict(
      format=run_dir_lib.FORMAT, tasks=tasks, seed=settings.seed,
      children_per_iteration=settings.children_per_iteration,
      reuse_evaluated=settings.reuse_evaluated,
      # A resumed transfer need not name its source again.
      init_from=(os.path.abspath(settings.init_from) if settings.init_from else
                 (stored or {}).get('init_from')),
      pipelined=settings.pipelined, **warm_start.WarmStart.record(settings),
      **proposals.ProposalSettings.record(settings),
      search_space=evaluator.space.describe(), controller=create_controller.describe(),
      evaluator=evaluator.describe(tasks))
  if stored is not None:
    run.check_resume(stored, wanted)
    return stored
  plan = warm_start.plan(settings, tasks, wanted['init_from'], known_tasks, task_features,
                         evaluator.space)
  # A transferred controller's old tasks come first.
  controller_tasks = known_tasks + [t for t in tasks if t not in known_tasks]
  return run.create(dict(wanted, controller_tasks=controller_tasks, **plan,
                         **settings.proposal_plan(task_features, tasks)))


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


class _SearchLoop:
  """One invocation of a run's loop: its controller, restored, and the iterations it has
  sampled but not yet learned from."""

  def __init__(self, run, info, evaluator, create_controller, checkpoint_every):
    self.run_dir, self.info, self.evaluator = run, info, evaluator
    self.space, self.checkpoint_every = evaluator.space, checkpoint_every
    self.tasks, self.seed = info['tasks'], info['seed']
    self.width = info['children_per_iteration']
    # Pipelined, iteration i + 1 is sampled before iteration i is learned from (module doc).
    self.lookahead = 1 if info['pipelined'] else 0
    self.iteration = tf.Variable(0, dtype=tf.int64)
    ahead = _SampledAhead(self.lookahead + 1, self.width, len(self.space.sizes))
    checkpoint_dir = run.path(run_dir_lib.CHECKPOINTS)
    self.resumed = tf.train.latest_checkpoint(checkpoint_dir) is not None
    self.controller = warm_start.initial_controller(info, create_controller, self.space,
                                                    self.resumed,
                                                    getattr(evaluator, 'trainer', None))
    self.checkpointer = checkpoints.Checkpointer(
        checkpoint_dir, checkpoints.controller_checkpoint(self.controller, self.iteration, ahead))
    if self.checkpointer.restore('the search state'):
      logging.info('Resuming %s at iteration %d', run.root_dir, int(self.iteration))
    self.ahead = ahead
    self.filler = proposals.SlotFiller(info, self.controller, self.space,
                                       _first_iterations(self.seed, self.tasks))
    self.sampled = collections.deque()

  def _sample_ahead(self, store):
    """The iterations sampled but not learned from: as checkpointed, then new ones."""
    if not self.sampled:
      self.sampled.extend(self._new_iteration(int(self.iteration) + k, store, *restored)
                          for k, restored in enumerate(self.ahead.read()))
    while len(self.sampled) <= self.lookahead:
      self.sampled.append(self._new_iteration(int(self.iteration) + len(self.sampled), store))

  def _new_iteration(self, index, store, actions=None, log_probabilities=None):
    """Iteration `index`, filled now (search/proposals.py) from the task's children of
    the iterations complete by then, or as sampled before the checkpoint (`actions`)."""
    task = self.tasks[iteration_task(self.seed, index, len(self.tasks))]
    task_indices = [self.controller.task_index(task)] * self.width
    if actions is None:
      history = store.trials(task=task, before_iteration=index - self.lookahead)
      pending = {self.space.config_hash(self.space.to_config(a))
                 for it in self.sampled if it.task == task for a in it.actions}
      actions, log_probabilities = self.filler.fill(index, task, task_indices, history,
                                                    pending)
    return _Iteration(index, task, task_indices, np.asarray(actions, np.int64),
                      np.asarray(log_probabilities, np.float32))

  def _save(self):
    self.ahead.write(self.sampled)
    self.checkpointer.save(int(self.iteration))
    return int(self.iteration)

  def _start_what_the_budget_allows(self, store, budget, started):
    for it in self.sampled:
      if it.results is None:
        if budget.exhausted(it.index, it.index * self.width, time.time() - started):
          return
        _start(store, self.evaluator, it, self.space, self.seed,
               self.info['reuse_evaluated'], reuse_before=it.index - self.lookahead)

  def _learn(self, it, store):
    """Waits for the oldest iteration's children, then learns from them."""
    while not it.complete():
      (index, slot), result, worker = self.evaluator.next_result()
      owner = next(s for s in self.sampled if s.index == index)
      owner.results[slot] = result
      store.add(index, slot, result, worker, owner.started_at)
    rewards = np.array([r.reward for r in it.results], np.float32)
    self.controller.observe(it.task_indices, it.actions, rewards, it.log_probabilities,
                            it.index)
    scalars = self.controller.train()
    store.record_controller_seconds(self.controller.training_seconds())
    self.sampled.popleft()
    self.sampled.append(self._new_iteration(it.index + self.lookahead + 1, store))
    self.iteration.assign(it.index + 1)
    return scalars

  def run(self, budget):
    store = store_lib.TrialStore(self.run_dir.root_dir)
    summaries = summaries_lib.Summaries(self.run_dir.root_dir, store, self.tasks)
    if int(self.iteration) == 0 and not self.resumed:
      summaries.hparams(dict(self.info, root_dir=self.run_dir.root_dir))
    started, done, stopped_by, saved = time.time(), 0, 'budget', int(self.iteration)
    with store:
      self._sample_ahead(store)
      self._start_what_the_budget_allows(store, budget, started)
      while self.sampled[0].results is not None:
        it = self.sampled[0]
        scalars = self._learn(it, store)
        if (it.index + 1) % self.checkpoint_every == 0:
          saved = self._save()
        if done == 0:
          self.run_dir.write_operative_config()
        done += 1
        summaries.iteration(it.index, it.task, it.results, it.log_probabilities, scalars)
        logging.info('%s', summaries.progress_line(
            it, store.count(), time.time() - started, done, budget, self.width))
        if budget.until is not None and budget.until(self.controller, store, it.index + 1):
          stopped_by = 'until'
          break
        self._start_what_the_budget_allows(store, budget, started)
      self.evaluator.cancel()  # children sampled ahead of where the search stops
      if saved != int(self.iteration):
        self._save()
      summary = {'root_dir': self.run_dir.root_dir, 'iterations': int(self.iteration),
                 'children': store.count(), 'stopped_by': stopped_by,
                 'controller': self.controller,
                 'best': {t: store.best(t) for t in self.tasks}}
    summaries.writer.close()
    logging.info('Search stopped after %d iterations, %d children; best validation '
                 'accuracy: %s', summary['iterations'], summary['children'],
                 summaries.best_line())
    return summary


def _first_iterations(seed, tasks):
  """task -> the first iteration that searches it."""
  first, i = {}, 0
  while len(first) < len(tasks):
    first.setdefault(tasks[iteration_task(seed, i, len(tasks))], i)
    i += 1
  return first


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
      it.results[slot] = store_lib.result_from_row(row)
      continue
    previous = (store.evaluated(it.task, space.config_hash(config), reuse_before)
                if reuse_evaluated else None)
    if previous is not None:
      it.results[slot] = dataclasses.replace(store_lib.result_from_row(previous), config=config)
      store.add(it.index, slot, it.results[slot], 'store', it.started_at,
                reused_from=previous['id'])
      continue
    evaluator.submit((it.index, slot), (it.task, config, child_seed(seed, it.index, slot)))
