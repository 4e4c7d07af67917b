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

Resume is exact: the task of iteration i and the children's seeds derive from (seed, i),
and the controller's RNG is in the checkpoint, so an iteration interrupted at any moment
is sampled again identically; children already stored for it are taken from the store,
never trained or stored twice. A failed child (its worker died, it timed out, its loss
diverged) is stored as such and is not trained again on resume either.
"""
import dataclasses
import os
import time
from typing import Callable, Optional

from absl import logging
import gin
import numpy as np
import tensorflow as tf

from mnms_tf import child
from mnms_tf import controller as controller_lib
from mnms_tf import run_dir as run_dir_lib
from mnms_tf import search_space
from mnms_tf import store as store_lib

RunDirError = run_dir_lib.RunDirError


@dataclasses.dataclass
class Budget:
  """Stop before an iteration once any limit is reached (None: no limit). `iterations`
  and `children` count the whole run, resumes included; `seconds`, this invocation.
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
  """TensorBoard scalars and the best trial per task, for the progress line."""

  def __init__(self, root_dir, store, tasks):
    self.writer = tf.summary.create_file_writer(os.path.join(root_dir, run_dir_lib.TENSORBOARD))
    self.best = {t: store.best(t) for t in tasks}

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
  transfer without a checkpoint yet, the source run's with fresh embeddings for new tasks."""
  if has_checkpoint or not info['init_from']:
    return create_controller(info['controller_tasks'], sizes, info['seed'])
  pretrained = run_dir_lib.restore_controller(info['init_from'])
  if pretrained.sizes != tuple(sizes):
    raise RunDirError(f'--init_from={info["init_from"]} searched another search space')
  new_tasks = [t for t in info['tasks'] if t not in pretrained.task_names]
  logging.info('Transfer from %s: new tasks %s', info['init_from'], new_tasks)
  return pretrained.with_new_tasks(new_tasks, seed=info['seed'],
                                   settings=create_controller.agent)


@gin.configurable(denylist=['root_dir', 'budget', 'evaluator'])
def search(root_dir, budget, evaluator, tasks=None, create_controller=None,
           children_per_iteration=8, seed=0, reuse_evaluated=False, init_from=None,
           checkpoint_every=1):
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
      `reused_from`).
    init_from: a finished or running MNMS search directory whose controller starts this
      one (transfer: new tasks get fresh embeddings; the replay bank starts empty).
    checkpoint_every: iterations between checkpoints (and one when the search stops). A
      resume from an older checkpoint replays the stored iterations since, identically,
      so this trades only replay time for checkpoint time: synthetic searches, whose
      children cost nothing, set it higher.
  """
  tasks = _check_tasks(tasks)
  create_controller = create_controller or controller_lib.ControllerFactory()
  if create_controller.kind != 'mnms' and init_from:
    raise RunDirError('Only an MNMS controller can be transferred: drop init_from')
  evaluator.check_tasks(tasks)
  controller_tasks = _controller_tasks(tasks, init_from)  # checks the source before writing
  space = search_space.SearchSpace()
  run = run_dir_lib.RunDir(root_dir)
  with run.lock():
    stored = run.info()
    wanted = dict(
        format=run_dir_lib.FORMAT, tasks=tasks, seed=seed,
        children_per_iteration=children_per_iteration, reuse_evaluated=reuse_evaluated,
        # A resumed transfer need not name its source again.
        init_from=os.path.abspath(init_from) if init_from else (stored or {}).get('init_from'),
        search_space=space.describe(), controller=create_controller.describe(),
        evaluator=evaluator.describe(tasks, space))
    if stored is not None:
      run.check_resume(stored, wanted)
      info = stored
    else:
      info = run.create(dict(wanted, controller_tasks=controller_tasks))
    return _search_loop(run, info, budget, evaluator, create_controller, space,
                        checkpoint_every)


def _controller_tasks(tasks, init_from):
  """The tasks a new run's controller knows: a transferred one's old tasks come first."""
  if not init_from:
    return tasks
  source = run_dir_lib.read_info(init_from)
  if source['controller']['kind'] != 'mnms':
    raise RunDirError(f'--init_from={init_from} is a {source["controller"]["kind"]} search; '
                      f'only an MNMS controller can be transferred')
  known = source['controller_tasks']
  return known + [t for t in tasks if t not in known]


def _search_loop(run, info, budget, evaluator, create_controller, space, checkpoint_every):
  tasks, seed = info['tasks'], info['seed']
  iteration = tf.Variable(0, dtype=tf.int64)
  checkpoint_dir = run.path(run_dir_lib.CHECKPOINTS)
  has_checkpoint = tf.train.latest_checkpoint(checkpoint_dir) is not None
  controller = _initial_controller(info, create_controller, space.sizes, has_checkpoint)
  checkpointer = run_dir_lib.Checkpointer(
      checkpoint_dir, run_dir_lib.controller_checkpoint(controller, iteration))
  if checkpointer.restore('the search state'):
    logging.info('Resuming %s at iteration %d', run.root_dir, int(iteration))
  saved = int(iteration)

  store = store_lib.TrialStore(run.root_dir)
  summaries = _Summaries(run.root_dir, store, tasks)
  started, done, stopped_by = time.time(), 0, 'budget'
  with store:
    while not budget.exhausted(int(iteration), store.count(), time.time() - started):
      i = int(iteration)
      task = tasks[iteration_task(seed, i, len(tasks))]
      task_indices = [controller.task_index(task)] * info['children_per_iteration']
      actions, log_probabilities = controller.sample(task_indices)
      results = _evaluate(store, evaluator, i, task, actions, space, seed,
                          info['reuse_evaluated'])
      rewards = np.array([r.reward for r in results], np.float32)
      controller.observe(task_indices, actions, rewards, log_probabilities, i)
      scalars = controller.train()
      iteration.assign(i + 1)
      if (i + 1) % checkpoint_every == 0:
        checkpointer.save(i + 1)
        saved = i + 1
      if done == 0:
        run.write_operative_config()
      done += 1
      summaries.iteration(i, task, results, log_probabilities, scalars)
      failed = sum(r.status != store_lib.OK for r in results)
      logging.info(
          'iteration %d %s: val %.3f mean, %.3f best of %d%s | %d children | best: %s | '
          '%.1fs/iteration, ETA %s', i + 1, task,
          np.mean([r.val_accuracy for r in results]), max(r.val_accuracy for r in results),
          len(results), f' ({failed} failed)' if failed else '', store.count(),
          summaries.best_line(), (time.time() - started) / done,
          _eta(budget, i + 1, store.count(), time.time() - started, done,
               info['children_per_iteration']))
      if budget.until is not None and budget.until(controller, store, i + 1):
        stopped_by = 'until'
        break
    if saved != int(iteration):
      checkpointer.save(int(iteration))
    summary = {'root_dir': run.root_dir, 'iterations': int(iteration),
               'children': store.count(), 'stopped_by': stopped_by, 'controller': controller,
               'best': {t: store.best(t) for t in tasks}}
  summaries.writer.close()
  logging.info('Search stopped after %d iterations, %d children; best validation accuracy: %s',
               summary['iterations'], summary['children'], summaries.best_line())
  return summary


def _evaluate(store, evaluator, iteration, task, actions, space, seed, reuse_evaluated):
  """The ChildResults of an iteration in slot order: stored ones reused, the rest trained
  (and each stored the moment it finishes)."""
  configs = [space.to_config(a) for a in actions]
  stored = store.iteration(iteration)
  results = [None] * len(configs)
  jobs, slots = [], []
  for slot, config in enumerate(configs):
    if slot in stored:
      row = stored[slot]
      if row['task'] != task or row['config'] != config:
        raise RunDirError(
            f'Iteration {iteration} slot {slot} is stored as {row["task"]} {row["config"]}, '
            f'but the restored controller samples {task} {config}: the run directory does not '
            f'match its checkpoint (was the search changed?). Nothing was overwritten.')
      results[slot] = _result_from_row(row)
      continue
    previous = (store.evaluated(task, space.config_hash(config)) if reuse_evaluated else None)
    if previous is not None:
      results[slot] = dataclasses.replace(_result_from_row(previous), config=config)
      store.add(iteration, slot, results[slot], 'store', time.time(), reused_from=previous['id'])
      continue
    jobs.append((task, config, child_seed(seed, iteration, slot)))
    slots.append(slot)
  started = time.time()
  for index, result, worker in evaluator.run(jobs):
    results[slots[index]] = result
    store.add(iteration, slots[index], result, worker, started)
  return results


def _result_from_row(row):
  return child.ChildResult(
      task=row['task'], config=row['config'], config_hash=row['config_hash'], seed=row['seed'],
      status=row['status'], message=row['message'], val_accuracy=row['val_accuracy'],
      test_accuracy=row['test_accuracy'], reward=row['reward'], total_seconds=row['seconds'])
