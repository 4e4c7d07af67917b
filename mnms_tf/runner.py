"""The search loop: sample a task, sample its children, train them, store them, learn.

Each iteration draws one of the search's tasks uniformly (the paper's multitask
schedule), the controller samples `children_per_iteration` configs for it, the children
train on the worker pool, each result is committed to the trial store as it arrives, the
controller observes the rewards and takes its learner steps, and a checkpoint of
everything (controller, critic, optimizers, baselines, replay bank, RNG, iteration) is
written. The run directory holds:

  run.json               what the run is (tasks, controller, search space, seed): a resume
                         with different settings is refused
  config.gin             the gin bindings of the latest invocation (workers and export
                         parse it); operative_config.gin, what the configurables used
  trials.sqlite          every child evaluated (mnms_tf/store.py)
  checkpoints/           tf.train.CheckpointManager; the newest 3 are kept
  tensorboard/           per-task and controller scalars

Resume is exact: the task of iteration i and the children's seeds derive from (seed, i),
and the controller's RNG is in the checkpoint, so an iteration interrupted at any moment
is sampled again identically; children already stored for it are taken from the store,
never trained or stored twice.
"""
import dataclasses
import json
import os
import time

from absl import logging
import gin
import numpy as np
import tensorflow as tf

from mnms_tf import child
from mnms_tf import errors
from mnms_tf import learner
from mnms_tf import random_search
from mnms_tf import search_space
from mnms_tf import store as store_lib
from mnms_tf import workers
from mnms_tf.tasks import registry as task_registry

RUN_INFO, CONFIG_GIN, OPERATIVE_GIN = 'run.json', 'config.gin', 'operative_config.gin'
CHECKPOINTS, TENSORBOARD = 'checkpoints', 'tensorboard'
CONTROLLERS = ('mnms', 'random')


class RunDirError(errors.UserError, ValueError):
  pass


class CheckpointError(errors.UserError, RuntimeError):
  pass


@dataclasses.dataclass
class Budget:
  """Stop before an iteration once any limit is reached (None: no limit). `iterations`
  and `children` count the whole run, resumes included; `seconds`, this invocation."""
  iterations: int = None
  children: int = None
  seconds: float = None

  def exhausted(self, iteration, children, seconds):
    return ((self.iterations is not None and iteration >= self.iterations) or
            (self.children is not None and children >= self.children) or
            (self.seconds is not None and seconds >= self.seconds))


def child_seed(seed, iteration, slot):
  return int(np.random.SeedSequence([seed, iteration, slot]).generate_state(1)[0] >> 1)


def iteration_task(seed, iteration, num_tasks):
  """The index of the task that iteration `iteration` searches: uniform, reproducible."""
  return int(np.random.default_rng([seed, iteration]).integers(num_tasks))


def read_run_info(root_dir):
  path = os.path.join(root_dir, RUN_INFO)
  if not os.path.exists(path):
    raise RunDirError(f'{root_dir} is not a search run directory (no {RUN_INFO})')
  with open(path) as f:
    return json.load(f)


def _write_atomically(path, text):
  with open(path + '.tmp', 'w') as f:
    f.write(text)
    f.flush()
    os.fsync(f.fileno())
  os.replace(path + '.tmp', path)


def _check_compatible(root_dir, stored, wanted):
  differences = [f'{key}: stored {stored.get(key)!r}, now {wanted[key]!r}'
                 for key in wanted if key != 'controller_tasks' and stored.get(key) != wanted[key]]
  if differences:
    raise RunDirError(
        f'{root_dir} holds a different run ({"; ".join(differences)}). Resume it with its own '
        f'settings, or start this search in a new --root_dir; nothing was changed.')


def _restore(checkpoint, path, what):
  try:
    checkpoint.read(path).expect_partial()
  except Exception as e:  # pylint: disable=broad-except  # TF's reader raises many types
    raise CheckpointError(
        f'Cannot restore {what} from {path}: {type(e).__name__}: {str(e).splitlines()[0]}. '
        f'The trial store is untouched. If the checkpoint is damaged, delete its directory: '
        f'the search then rebuilds the controller by replaying its stored children (none is '
        f'trained again) and continues.'
    ) from e


def _controller_checkpoint(controller, iteration):
  return tf.train.Checkpoint(controller=controller.checkpoint(), iteration=iteration)


def restore_controller(root_dir):
  """The newest checkpointed controller of a run (built with the gin config in force)."""
  info = read_run_info(root_dir)
  space = search_space.SearchSpace()
  if info['search_space'] != _json_space(space):
    raise RunDirError(f'{root_dir} searched another search space: {info["search_space"]}')
  agent = _make_controller(info['controller'], info['controller_tasks'], space, info['seed'])
  latest = tf.train.latest_checkpoint(os.path.join(root_dir, CHECKPOINTS))
  if latest is None:
    raise RunDirError(f'{root_dir} has no checkpoint yet')
  _restore(_controller_checkpoint(agent, tf.Variable(0, dtype=tf.int64)), latest,
           f'the controller of {root_dir}')
  return agent


def _pretrained_controller(init_from, tasks, seed):
  """The controller of run `init_from` with fresh task embeddings for the new tasks."""
  pretrained = restore_controller(init_from)
  if not isinstance(pretrained, learner.MNMSAgent):
    raise RunDirError(f'--init_from={init_from} is not an MNMS search; only an MNMS '
                      f'controller can be transferred')
  new_tasks = [t for t in tasks if t not in pretrained.task_names]
  logging.info('Transfer from %s: new tasks %s', init_from, new_tasks)
  return pretrained.with_new_tasks(new_tasks, seed=seed)


def _json_space(space):
  return {k: list(v) for k, v in space.choices.items()}


def _make_controller(kind, controller_tasks, space, seed):
  if kind == 'random':
    return random_search.RandomSampler(controller_tasks, space.sizes, seed=seed)
  return learner.MNMSAgent(controller_tasks, space.sizes, seed=seed)


class _Summaries:
  """TensorBoard scalars and the best trial per task, for the progress line."""

  def __init__(self, root_dir, store, tasks):
    self.writer = tf.summary.create_file_writer(os.path.join(root_dir, TENSORBOARD))
    self.best = {t: store.best(t) for t in tasks}

  def iteration(self, step, task, results, log_probabilities, controller, losses):
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
      if isinstance(controller, learner.MNMSAgent):
        scalars['baseline'] = float(controller.baselines[controller.task_index(task)])
      for name, value in scalars.items():
        tf.summary.scalar(f'{task}/{name}', value)
      for name, value in losses.items():
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


@gin.configurable(denylist=['root_dir', 'budget', 'num_workers', 'data_dir'])
def search(root_dir, budget, tasks=None, controller='mnms', children_per_iteration=8, seed=0,
           reuse_evaluated=False, init_from=None, num_workers=None, data_dir=None):
  """Runs (or resumes) a search in `root_dir` until `budget` runs out; returns its summary.

  Args:
    tasks: names of the tasks searched for, drawn uniformly each iteration.
    controller: 'mnms' (the paper's controller, learner.MNMSAgent) or 'random' (uniform).
    children_per_iteration: configs sampled and trained per iteration.
    seed: seeds the controller, the task schedule and every child.
    reuse_evaluated: a (task, config) trained before in this run is copied from the
      store instead of trained again (its row says `reused_from`).
    init_from: a finished or running MNMS search directory whose controller starts this
      one (transfer: new tasks get fresh embeddings; the replay bank starts empty).
    num_workers: processes that train children (default: the number of cores).
  """
  if not tasks:
    raise RunDirError("No tasks to search: bind search.tasks, e.g. "
                      "search.tasks = ['spanish_langid', 'rt_snippets']")
  tasks = list(tasks)
  if len(set(tasks)) != len(tasks):
    raise RunDirError(f'search.tasks lists a task twice: {tasks}')
  for task in tasks:
    task_registry.get_task(task)
  if controller not in CONTROLLERS:
    raise RunDirError(f'search.controller must be one of {CONTROLLERS}, got {controller!r}')
  if controller == 'random' and init_from:
    raise RunDirError('A random search has no controller to transfer: drop init_from')
  space = search_space.SearchSpace()
  wanted = dict(tasks=tasks, controller=controller, search_space=_json_space(space),
                children_per_iteration=children_per_iteration, seed=seed,
                init_from=os.path.abspath(init_from) if init_from else None)
  os.makedirs(root_dir, exist_ok=True)
  checkpoint_dir = os.path.join(root_dir, CHECKPOINTS)
  latest = tf.train.latest_checkpoint(checkpoint_dir)
  if os.path.exists(os.path.join(root_dir, RUN_INFO)):
    info = read_run_info(root_dir)
    if init_from is None:  # a resumed transfer need not name its source again
      wanted['init_from'] = info.get('init_from')
    _check_compatible(root_dir, info, wanted)
    if latest is None and info['init_from']:  # killed before its first checkpoint
      agent = _pretrained_controller(info['init_from'], tasks, seed)
    else:
      agent = _make_controller(controller, info['controller_tasks'], space, seed)
  elif latest or os.path.exists(os.path.join(root_dir, store_lib.FILENAME)):
    raise RunDirError(f'{root_dir} has checkpoints or trials but no {RUN_INFO}: not a run '
                      f'this version can resume; use a new --root_dir')
  else:
    agent = (_pretrained_controller(init_from, tasks, seed) if init_from else
             _make_controller(controller, tasks, space, seed))
    info = dict(wanted, controller_tasks=list(agent.task_names))
    _write_atomically(os.path.join(root_dir, RUN_INFO), json.dumps(info, indent=2) + '\n')
  _write_atomically(os.path.join(root_dir, CONFIG_GIN), gin.config_str())

  iteration = tf.Variable(0, dtype=tf.int64)
  checkpoint = _controller_checkpoint(agent, iteration)
  manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=3)
  if latest:
    _restore(checkpoint, latest, 'the search state')
    logging.info('Resuming %s at iteration %d', root_dir, int(iteration))

  store = store_lib.TrialStore(root_dir)
  summaries = _Summaries(root_dir, store, tasks)
  started, done = time.time(), 0
  with store, workers.ChildPool(num_workers or os.cpu_count(), data_dir) as pool:
    while not budget.exhausted(int(iteration), store.count(), time.time() - started):
      i = int(iteration)
      task = tasks[iteration_task(seed, i, len(tasks))]
      task_indices = [agent.task_index(task)] * children_per_iteration
      actions, log_probabilities = agent.sample(task_indices)
      results = _evaluate(store, pool, i, task, actions, space, seed, reuse_evaluated)
      rewards = np.array([r.reward for r in results], np.float32)
      agent.observe(task_indices, actions, rewards, log_probabilities, i)
      losses = agent.train()
      iteration.assign(i + 1)
      manager.save(checkpoint_number=i + 1)
      if done == 0:
        _write_atomically(os.path.join(root_dir, OPERATIVE_GIN), gin.operative_config_str())
      done += 1
      summaries.iteration(i, task, results, log_probabilities, agent, losses)
      failed = sum(r.status != store_lib.OK for r in results)
      logging.info(
          'iteration %d %s: val %.3f mean, %.3f best of %d%s | %d children | best: %s | '
          '%.1fs/iteration, ETA %s', i + 1, task,
          np.mean([r.val_accuracy for r in results]), max(r.val_accuracy for r in results),
          len(results), f' ({failed} failed)' if failed else '', store.count(),
          summaries.best_line(), (time.time() - started) / done,
          _eta(budget, i + 1, store.count(), time.time() - started, done,
               children_per_iteration))
    summary = {'root_dir': root_dir, 'iterations': int(iteration), 'children': store.count(),
               'best': {t: store.best(t) for t in tasks}}
  summaries.writer.close()
  logging.info('Search stopped after %d iterations, %d children; best validation accuracy: %s',
               summary['iterations'], summary['children'], summaries.best_line())
  return summary


def _evaluate(store, pool, iteration, task, actions, space, seed, reuse_evaluated):
  """The ChildResults of an iteration in slot order: stored ones reused, the rest trained
  (and each stored the moment it finishes)."""
  configs = [space.to_config(a) for a in actions]
  stored = store.iteration(iteration)
  results = [None] * len(configs)
  jobs, slots = [], []
  for slot, config in enumerate(configs):
    seed_of_child = child_seed(seed, iteration, slot)
    if slot in stored:
      row = stored[slot]
      if row['task'] != task or row['config'] != config:
        raise RunDirError(
            f'Iteration {iteration} slot {slot} is stored as {row["task"]} {row["config"]}, '
            f'but the restored controller samples {task} {config}: the run directory does not '
            f'match its checkpoint (was the search changed?). Nothing was overwritten.')
      results[slot] = _result_from_row(row)
      continue
    previous = store.evaluated(task, search_space.config_hash(config)) if reuse_evaluated else None
    if previous is not None:
      results[slot] = _result_from_row(previous)
      store.add(iteration, slot, results[slot], 'store', time.time(), reused_from=previous['id'])
      continue
    jobs.append((task, config, seed_of_child))
    slots.append(slot)
  started = time.time()
  for index, result, worker in pool.run(jobs):
    results[slots[index]] = result
    store.add(iteration, slots[index], result, worker, started)
  return results


def _result_from_row(row):
  return child.ChildResult(
      task=row['task'], config=row['config'], config_hash=row['config_hash'], seed=row['seed'],
      status=row['status'], message=row['message'], val_accuracy=row['val_accuracy'],
      test_accuracy=row['test_accuracy'], reward=row['reward'], total_seconds=row['seconds'])
