"""The project's knowledge, ready for a new task: a directory a search starts from.

A knowledge base is laid out like a suite experiment's fold (experiments/suite.py), so that
every warm start of `suite.VARIANTS` reads it as it reads a fold:
  pretrain/            a multitask MNMS search over the known tasks (its controller is what
                       a transfer starts from; its trials, what 'nearest_best' picks from)
  value_network/       fitted on those trials and on every added search's ('suggested',
                       model-assisted sampling)
  architectures/       each known task's supernet and their meta-architecture, with the
                       rate, length and l2 of its best config (a warm-started
                       differentiable search: children/supernet.py)
  portfolio.json       a zero-shot portfolio over the known tasks' seed means, when a ground
                       truth was given (transfer/portfolio.py)
  features.npz         every known task's Task2Vec embedding and representation, so that a
                       new task is compared with them without their data
  best_configs.json    each known task's best configs: by seed mean over a ground truth's
                       seeds where one was given (ground_truth.sqlite: its children), else
                       by mean validation over the pre-training's trials
  added/TASK/          the record (run.json, trials) of each search added later (`add`)
  manifest.json        written last: the code version, the search space, the child trainer's
                       settings and what the base was built with, and every file's checksum
A base whose manifest does not match the search space and child trainer in force, or whose
files changed since, is refused in one line that says how to rebuild it.
"""
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import subprocess
from typing import Optional, Sequence

from absl import logging
import gin
import numpy as np

from mnms_tf.children import supernet
from mnms_tf import errors
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf.search import checkpoints
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import portfolio as portfolio_lib
from mnms_tf.transfer import value_network

PRETRAIN, VALUE_NETWORK, PORTFOLIO = 'pretrain', 'value_network', 'portfolio.json'
ARCHITECTURES = 'architectures'
FEATURES, BEST_CONFIGS, GROUND_TRUTH = 'features.npz', 'best_configs.json', 'ground_truth.sqlite'
ADDED, MANIFEST = 'added', 'manifest.json'
FORMAT = 1
REBUILD = 'python -m mnms_tf.bin.build_knowledge'
# What a run directory holds that is not its record.
_NOT_RECORD = (run_dir_lib.LOCK, run_dir_lib.TENSORBOARD)


class KnowledgeError(errors.UserError):
  """A knowledge base that is missing, incomplete, changed or of another search space."""


@gin.configurable
@dataclasses.dataclass(frozen=True)
class KnowledgeSettings:
  """What a knowledge base is built from (gin: `KnowledgeSettings.*`).

  tasks: the known tasks (default: the suite's 14).
  pretraining_iterations: of the multitask pre-training over them (8 children each).
  seed: the pre-training's.
  top_configs: how many best configs per task best_configs.json keeps.
  portfolio_size: the zero-shot portfolio's length (with a ground truth).
  architectures: whether to build architectures/ (about 10 minutes for the suite).
  """
  tasks: Sequence[str] = task_registry.SUITE_TASKS
  pretraining_iterations: int = 280
  seed: int = 0
  top_configs: int = 8
  portfolio_size: int = 8
  architectures: bool = True

  def __post_init__(self):
    object.__setattr__(self, 'tasks', tuple(self.tasks))
    if len(self.tasks) < 2:
      raise KnowledgeError('KnowledgeSettings.tasks: at least 2 tasks to learn across')


@dataclasses.dataclass(frozen=True)
class Ranked:
  """A config's mean accuracy over its draws (seeds)."""
  config: dict
  val: float
  test: float
  draws: int


def code_version():
  """The package version and, in a git checkout, its commit."""
  from importlib import metadata  # pylint: disable=g-import-not-at-top
  try:
    version = metadata.version('mnms_tf')
  except metadata.PackageNotFoundError:
    version = 'unknown'
  try:
    commit = subprocess.run(['git', 'describe', '--always', '--dirty'], capture_output=True,
                            text=True, check=True, timeout=10,
                            cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    commit = 'unknown'
  return f'{version} ({commit})'


def _files(kb_dir):
  """{relative path: sha256} of the base's record (no locks, logs or SQLite side files)."""
  found = {}
  for directory, subdirectories, names in os.walk(kb_dir):
    subdirectories[:] = sorted(d for d in subdirectories if d not in _NOT_RECORD)
    for name in sorted(names):
      if name in _NOT_RECORD or name == MANIFEST or name.endswith(('-wal', '-shm', '.tmp')):
        continue
      path = os.path.join(directory, name)
      with open(path, 'rb') as f:
        found[os.path.relpath(path, kb_dir)] = hashlib.sha256(f.read()).hexdigest()
  return found


def _write_json(path, value):
  with open(path + '.tmp', 'w') as f:
    json.dump(value, f, indent=1, sort_keys=True)
  os.replace(path + '.tmp', path)


def _read_json(path):
  with open(path) as f:
    return json.load(f)


def _write_features(path, features):
  """task -> {'embedding', 'representation'} as float32 arrays named TASK/KIND (a
  fifth of their JSON)."""
  with open(path + '.tmp', 'wb') as f:
    np.savez_compressed(f, **{f'{t}/{k}': np.asarray(v, np.float32)
                              for t, kinds in features.items() for k, v in kinds.items()})
  os.replace(path + '.tmp', path)


def _read_features(path):
  features = {}
  with np.load(path) as arrays:
    for name in arrays.files:
      task, kind = name.rsplit('/', 1)
      features.setdefault(task, {})[kind] = arrays[name].astype(np.float64)
  return features


def ranked_from_trials(run_dirs, tasks, space):
  """task -> {config hash: Ranked} over the successful trials of `run_dirs`."""
  draws = {}
  for run in run_dirs:
    with store_lib.TrialStore(run, read_only=True) as store:
      for row in store.trials(status=store_lib.OK):
        if row['task'] in tasks:
          draws.setdefault(row['task'], {}).setdefault(
              space.config_hash(row['config']), []).append(row)
  return {task: {h: Ranked(space.validate(rows[0]['config']),
                           float(np.mean([r['val_accuracy'] for r in rows])),
                           float(np.mean([r['test_accuracy'] for r in rows])), len(rows))
                 for h, rows in by_hash.items()} for task, by_hash in draws.items()}


def _best(ranked, count):
  return [dataclasses.asdict(r) for r in sorted(
      ranked.values(), key=lambda r: (-r.val, -r.draws, json.dumps(r.config, sort_keys=True)))
          [:count]]


def build(kb_dir, evaluator, task_features, settings=None, truths=None, ground_truth=None):
  """Builds (or resumes building) the base in `kb_dir`; returns its manifest.

  truths: task -> {config hash: object with .config, .val, .test and .seeds}, the
    benchmark's ground truth (experiments/ground_truth.py) read from the SQLite file
    `ground_truth`, which the base keeps a copy of; with them, the best configs are by
    seed mean and a zero-shot portfolio is made.
  """
  settings = settings or KnowledgeSettings()
  if os.path.exists(os.path.join(kb_dir, MANIFEST)):
    raise KnowledgeError(f'{kb_dir} holds a finished knowledge base: build into a new '
                         f'directory (nothing was changed)')
  space = evaluator.space
  tasks = list(settings.tasks)
  evaluator.check_tasks(tasks)
  if truths is not None:
    missing = [t for t in tasks if not truths.get(t)]
    if missing:
      raise KnowledgeError(f'The ground truth {ground_truth} holds no config of {missing}')
  logging.info('knowledge: pre-training on %d tasks, %d iterations', len(tasks),
               settings.pretraining_iterations)
  pretrain = os.path.join(kb_dir, PRETRAIN)
  runner.search(pretrain, runner.Budget(settings.pretraining_iterations), evaluator,
                tasks=tasks, seed=settings.seed)
  checkpoints.keep_newest(os.path.join(pretrain, run_dir_lib.CHECKPOINTS))
  features = task_features.stored(tasks)
  _write_features(os.path.join(kb_dir, FEATURES), features)
  _fit_value_network(kb_dir, space, features)
  if truths is None:
    ranked, by = ranked_from_trials([pretrain], tasks, space), 'mean validation over trials'
  else:
    ranked = {t: {h: Ranked(v.config, v.val, v.test, v.seeds) for h, v in truths[t].items()}
              for t in tasks}
    by = 'seed mean of the ground truth'
    store_lib.snapshot(ground_truth, os.path.join(kb_dir, GROUND_TRUTH))
    portfolio_lib.write(os.path.join(kb_dir, PORTFOLIO),
                        portfolio_lib.build(ranked, settings.portfolio_size), tasks)
  best = {t: _best(ranked.get(t, {}), settings.top_configs) for t in tasks}
  _write_json(os.path.join(kb_dir, BEST_CONFIGS), {'by': by, 'configs': best})
  if settings.architectures:
    searched = [t for t in tasks if best[t]]
    if len(searched) < len(tasks):
      logging.warning('knowledge: no architecture search for %s, which has no best config',
                      sorted(set(tasks) - set(searched)))
    supernet.build_architectures(
        os.path.join(kb_dir, ARCHITECTURES), evaluator.trainer, space, searched,
        {t: supernet.hyperparameters_of(best[t][0]['config']) for t in searched})
  return _write_manifest(kb_dir, evaluator, dict(
      settings=dataclasses.asdict(settings), tasks=tasks, added=[],
      ground_truth=os.path.abspath(ground_truth) if ground_truth else None))


def _fit_value_network(kb_dir, space, features, added_runs=()):
  """value_network/ on the pre-training's and the added searches' trials (a new fit in a
  fresh directory, swapped in when finished, so a base is never left half fitted)."""
  target = os.path.join(kb_dir, VALUE_NETWORK)
  staging = target + '.fitting'
  shutil.rmtree(staging, ignore_errors=True)
  value_network.fit(staging, [os.path.join(kb_dir, PRETRAIN), *added_runs],
                    {t: f['representation'] for t, f in features.items()}, space)
  checkpoints.keep_newest(os.path.join(staging, value_network.CHECKPOINTS))
  shutil.rmtree(target, ignore_errors=True)
  os.replace(staging, target)


def _children(evaluator):
  """What decides a child's result, but the data's checksums (checked apart)."""
  return {k: v for k, v in evaluator.describe([]).items() if k != 'checksums'}


def _write_manifest(kb_dir, evaluator, built):
  manifest = dict(format=FORMAT, code_version=code_version(),
                  written_at=datetime.datetime.now(datetime.timezone.utc).isoformat(
                      timespec='seconds'),
                  search_space=evaluator.space.describe(), children=_children(evaluator),
                  data=evaluator.describe([]).get('checksums'), **built)
  manifest['files'] = _files(kb_dir)
  _write_json(os.path.join(kb_dir, MANIFEST), manifest)
  return json.loads(json.dumps(manifest))


@dataclasses.dataclass(frozen=True)
class Knowledge:
  """A checked knowledge base: its directory, manifest and known tasks' features."""
  directory: str
  manifest: dict
  features: dict

  @property
  def tasks(self):
    return list(self.features)

  def nearest(self, task_features, task, count=3):
    """[(known task, similarity)] of the `count` known tasks most like `task`."""
    similarities = task_features.similarities([task], [t for t in self.tasks if t != task])[task]
    return sorted(similarities.items(), key=lambda kv: -kv[1])[:count]


def load(kb_dir, evaluator):
  """The base in `kb_dir`, checked against the search space and child trainer of
  `evaluator` and against its manifest's checksums."""
  path = os.path.join(kb_dir, MANIFEST)
  rebuild = f'rebuild it with `{REBUILD} --output={kb_dir}` (into an empty directory)'
  if not os.path.exists(path):
    raise KnowledgeError(f'No knowledge base at {kb_dir} (no {MANIFEST}): {rebuild}')
  manifest = _read_json(path)
  if manifest.get('format') != FORMAT:
    raise KnowledgeError(f'The knowledge base at {kb_dir} has format '
                         f'{manifest.get("format")}, this code reads {FORMAT}: {rebuild}')
  for key, now in (('search_space', evaluator.space.describe()),
                   ('children', _children(evaluator))):
    if json.loads(json.dumps(now)) != manifest[key]:
      what = 'search space' if key == 'search_space' else 'child trainer'
      raise KnowledgeError(f'The knowledge base at {kb_dir} was built for another {what} '
                           f'(code {manifest["code_version"]}): {rebuild}')
  data = evaluator.describe([]).get('checksums')
  if json.loads(json.dumps(data)) != manifest['data']:
    logging.warning('The embedding modules differ from those the knowledge base at %s was '
                    'built with (%s, now %s): rebuild them with `python -m '
                    'mnms_tf.bin.build_data`', kb_dir, manifest['data'], data)
  files = _files(kb_dir)
  changed = sorted(set(files.items()) ^ set(manifest['files'].items()))
  if changed:
    raise KnowledgeError(f'The knowledge base at {kb_dir} changed since its manifest was '
                         f'written ({changed[0][0]}): restore it or {rebuild}')
  return Knowledge(kb_dir, manifest, _read_features(os.path.join(kb_dir, FEATURES)))


def add(kb_dir, evaluator, task_features, run_dir, task):
  """The knowledge grows: the search in `run_dir` for the new task `task` joins the base
  (its record under added/TASK, the task's features, its best configs) and the value
  network is fitted again on every trial. The controller is not changed (a new task reaches
  it through its features: the 'similarity_weighted' embedding and 'nearest_best' read the
  pre-training's tasks). Built in a copy that replaces the base once complete, so an
  interrupted addition leaves the base as it was. Returns the new manifest."""
  knowledge = load(kb_dir, evaluator)
  if task in knowledge.tasks:
    raise KnowledgeError(f'The knowledge base at {kb_dir} knows {task!r} already')
  info = run_dir_lib.read_info(run_dir)
  if task not in info['tasks']:
    raise KnowledgeError(f'{run_dir} did not search {task!r} (it searched {info["tasks"]})')
  if run_dir_lib.restore_search_space(info).describe() != evaluator.space.describe():
    raise KnowledgeError(f'{run_dir} searched another search space than the knowledge base')
  kb_dir = os.path.abspath(kb_dir)
  staging, old = kb_dir + '.adding', kb_dir + '.replaced'
  shutil.rmtree(staging, ignore_errors=True)
  shutil.copytree(kb_dir, staging, ignore=shutil.ignore_patterns(*_NOT_RECORD))
  target = os.path.join(staging, ADDED, task)
  os.makedirs(target)
  for name in (run_dir_lib.RUN_INFO, run_dir_lib.CONFIG_GIN):
    shutil.copy(os.path.join(run_dir, name), os.path.join(target, name))
  store_lib.snapshot(os.path.join(run_dir, store_lib.FILENAME),
                     os.path.join(target, store_lib.FILENAME))
  features = dict(knowledge.features, **task_features.stored([task]))
  _write_features(os.path.join(staging, FEATURES), features)
  added = [*knowledge.manifest['added'], task]
  _fit_value_network(staging, evaluator.space, features,
                     [os.path.join(staging, ADDED, t) for t in added])
  best = _read_json(os.path.join(staging, BEST_CONFIGS))
  best['configs'][task] = _best(ranked_from_trials([target], [task], evaluator.space)[task],
                                knowledge.manifest['settings']['top_configs'])
  _write_json(os.path.join(staging, BEST_CONFIGS), best)
  manifest = _write_manifest(staging, evaluator, dict(
      {k: knowledge.manifest[k] for k in ('settings', 'tasks', 'ground_truth')}, added=added))
  shutil.rmtree(old, ignore_errors=True)
  os.replace(kb_dir, old)
  os.replace(staging, kb_dir)
  shutil.rmtree(old)
  return manifest
