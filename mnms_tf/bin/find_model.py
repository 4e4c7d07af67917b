r"""Finds a text classifier for your own labelled texts, starting from what the project
learned on other tasks.

  python -m mnms_tf.bin.find_model --task_file=reviews.csv --text_column=review \
      --label_column=stars --root_dir=runs/reviews [--max_children=64] [--max_seconds=S] \
      [--no_transfer] [--method=NAME] [--knowledge=DIR] [--grow_knowledge] [--workers=N]

1. Reads the file as a task (the one-line checks of a task file) and warns when its
   validation split is too small to tell configs apart.
2. Loads the knowledge base (mnms_tf/transfer/knowledge.py): --knowledge, else
   DATA_DIR/knowledge when one was grown there, else the repository's knowledge/suite;
   compares the task with the known tasks (Task2Vec) and prints the nearest.
3. Searches ROOT/search with the warm start `--method` (a method of the benchmark:
   experiments/suite.py VARIANTS; default `find_model.method`), or MNMS from scratch with
   --no_transfer, until --max_children (rounded up to whole iterations) or --max_seconds.
4. Exports the config the search deploys to ROOT/model: a SavedModel on raw strings that
   answers with the task's label names (mnms_tf/search/export.py).
5. Trains the TF-IDF baseline on the same split and prints the summary (ROOT/summary.json).
Run again, it resumes the search (a larger --max_children continues it) and exports again
only when the deployed config changed (the earlier export is kept as ROOT/model.trial_N).
--grow_knowledge then adds the finished search to DATA_DIR/knowledge (copied from the
repository's first), so that the next task can learn from this one.
"""
import dataclasses
import json
import math
import os
import shutil
import time

from absl import app
from absl import flags
from absl import logging
import gin
import numpy as np

from mnms_tf import cli
from mnms_tf.children import baselines
from mnms_tf.data import features as features_lib
from mnms_tf.data.tasks import registry as task_registry
from mnms_tf import errors
from mnms_tf.evaluation import evaluators
from mnms_tf.experiments import searches
from mnms_tf.experiments import suite
from mnms_tf.search import export as export_lib
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import knowledge as knowledge_lib

_ROOT_DIR = cli.define(flags.DEFINE_string, 'root_dir', None,
                       'Where the search, the model and the summary go.')
_MAX_CHILDREN = cli.define(flags.DEFINE_integer, 'max_children', None,
                           'Children to train in all (default: find_model.max_children).')
_MAX_SECONDS = cli.define(flags.DEFINE_float, 'max_seconds', None,
                          'Stop starting iterations after this many seconds of this run.')
_NO_TRANSFER = flags.DEFINE_bool('no_transfer', False, 'Search with MNMS from scratch.')
_METHOD = flags.DEFINE_enum('method', None, list(suite.VARIANTS), 'How the search starts '
                            'from the knowledge base (default: find_model.method).')
_KNOWLEDGE = cli.define_knowledge()
_GROW = flags.DEFINE_bool('grow_knowledge', False, 'Add the finished search to '
                          'DATA_DIR/knowledge.')
_WORKERS = cli.define_workers()
cli.define_task_file()
cli.define_data_dir()
cli.define_gin_flags()

SEARCH, MODEL, SUMMARY = 'search', 'model', 'summary.json'


@gin.configurable('find_model')
@dataclasses.dataclass(frozen=True)
class Settings:
  """find_model's defaults (gin: `find_model.*`).

  method: the warm start from the knowledge base, a method of experiments/suite.py
    VARIANTS; 'warm_configs' (the transferred controller with similarity-weighted task
    embeddings, evaluating the nearest known task's best configs first) until the
    benchmark's default scale names its best (docs/transfer.md#your-own-task).
  max_children: the search's budget.
  warn_standard_error: warn when one child's validation accuracy has a standard error
    above this (at 50% accuracy: 0.5 / sqrt(validation examples)).
  seed: the search's seed (its controller and every child).
  """
  method: str = 'warm_configs'
  max_children: int = 64
  warn_standard_error: float = 0.03
  seed: int = 0


def check_task_file(task, data_dir, settings):
  """The splits' sizes; a warning when the validation split is too small."""
  task_registry.check_task(task, data_dir)
  sizes = {s: len(task_registry.load_split(task, s, data_dir).labels)
           for s in task_registry.SPLITS}
  standard_error = 0.5 / math.sqrt(sizes['validation'])
  if standard_error > settings.warn_standard_error:
    logging.warning(
        '%s: its validation split has %d examples, so one child\'s validation accuracy '
        'has a standard error of up to %.1f points: configs closer than about %.0f points '
        'cannot be told apart. Give it more rows (or a --split_column with a larger '
        'validation split).', task, sizes['validation'], 100 * standard_error,
        200 * standard_error)
  return sizes, standard_error


def _export(run_dir, task, root_dir, data_dir):
  """ROOT/model of the deployed config: kept if it is that config's export already."""
  trial, _, _ = export_lib.deployed_trial(run_dir, task)
  model = os.path.join(root_dir, MODEL)
  metadata_path = os.path.join(model, export_lib.METADATA)
  if os.path.exists(metadata_path):
    with open(metadata_path) as f:
      metadata = json.load(f)
    if metadata['trial_id'] == trial['id']:
      return metadata
    os.replace(model, f'{model}.trial_{metadata["trial_id"]}')
  elif os.path.exists(model):  # an export that did not finish
    shutil.rmtree(model)
  return export_lib.export(run_dir, task, model, data_dir)


def _trials_summary(run_dir, task):
  with store_lib.TrialStore(run_dir, read_only=True) as store:
    rows = store.trials(task=task)
    controller_seconds = store.controller_seconds().get(task, 0.0)
  return {'children': len(rows), 'failed': sum(r['status'] != store_lib.OK for r in rows),
          'child_seconds': float(sum(r['seconds'] for r in rows)),
          'controller_seconds': controller_seconds,
          'first_to_last_seconds': float(max(r['finished_at'] for r in rows) -
                                         min(r['started_at'] for r in rows))}


def _deployed_means(run_dir, task, config_hash):
  """Mean validation and test accuracy over the deployed config's draws (failed: 0)."""
  with store_lib.TrialStore(run_dir, read_only=True) as store:
    draws = [r for r in store.trials(task=task) if r['config_hash'] == config_hash]
  ok = [r['status'] == store_lib.OK for r in draws]
  return (float(np.mean([r['val_accuracy'] if o else 0.0 for r, o in zip(draws, ok)])),
          float(np.mean([r['test_accuracy'] if o else 0.0 for r, o in zip(draws, ok)])))


def find_model(root_dir, data_dir, task, max_children=None, max_seconds=None, transfer=True,
               method=None, knowledge=None, grow_knowledge=False, workers=None):
  """Steps 1-5 of the module doc for the task (bound in gin); returns the summary."""
  settings = Settings()
  if max_children is not None and max_children < 1:
    raise errors.UserError(f'--max_children must be at least 1, got {max_children}')
  method = method or (settings.method if transfer else 'scratch')
  if not transfer and method != 'scratch':
    raise errors.UserError(f'--no_transfer searches from scratch: drop --method={method}')
  sizes, standard_error = check_task_file(task, data_dir, settings)
  kb_dir = cli.knowledge_dir(data_dir, knowledge)
  started = time.time()
  with evaluators.Children(data_dir, workers) as evaluator:
    kb = (knowledge_lib.load(kb_dir, evaluator) if transfer or os.path.exists(
        os.path.join(kb_dir, knowledge_lib.MANIFEST)) else None)
    task_features = features_lib.TaskFeatures.for_space(data_dir, evaluator.space,
                                                        kb.features if kb else None)
    nearest = kb.nearest(task_features, task) if kb else []
    if nearest:
      logging.info('find_model: nearest known tasks: %s',
                   ', '.join(f'{t} {s:.3f}' for t, s in nearest))
    arguments = suite.search_arguments(kb_dir, method)
    for key in ('portfolio', 'value_network', 'init_from', 'configs_from'):
      if key in arguments and not os.path.exists(arguments[key]):
        raise knowledge_lib.KnowledgeError(f'--method={method} needs {arguments[key]}, '
                                           f'which the knowledge base at {kb_dir} lacks')
    width = runner.SearchSettings().children_per_iteration
    run_dir = os.path.join(root_dir, SEARCH)
    searches.SearchJob(run_dir, -(-(max_children or settings.max_children) // width),
                       dict(tasks=[task], seed=settings.seed, **arguments),
                       label=f'{task}, {method}', seconds=max_seconds).run(evaluator,
                                                                          task_features)
    exported = _export(run_dir, task, root_dir, data_dir)
    tfidf = baselines.tfidf(task, data_dir)
    grown = None
    if grow_knowledge:
      grown = _grow(data_dir, kb_dir, evaluator, task_features, run_dir, task)
  mean_val, mean_test = _deployed_means(run_dir, task, exported['config_hash'])
  summary = dict(
      task=task, task_file=task_registry.get_task(task).path, splits=sizes,
      label_names=exported['label_names'], validation_standard_error=standard_error,
      knowledge=kb_dir if kb else None, method=method,
      nearest_tasks=[{'task': t, 'similarity': s} for t, s in nearest],
      **_trials_summary(run_dir, task), seconds_this_run=time.time() - started,
      deployed=dict(config=exported['config'], rule=exported['deploy_rule'],
                    draws=exported['draws'], mean_val_accuracy=mean_val,
                    mean_test_accuracy=mean_test),
      model=dict(path=os.path.join(root_dir, MODEL), val_accuracy=exported['val_accuracy'],
                 test_accuracy=exported['test_accuracy']),
      tfidf=tfidf, grown_knowledge=grown)
  with open(os.path.join(root_dir, SUMMARY), 'w') as f:
    json.dump(summary, f, indent=1)
  return summary


def _grow(data_dir, kb_dir, evaluator, task_features, run_dir, task):
  """Adds the search to DATA_DIR/knowledge (a copy of the base it started from, the first
  time); returns that directory."""
  grown = cli.grown_knowledge(data_dir)
  if os.path.abspath(kb_dir) != grown:
    if os.path.exists(grown):
      raise knowledge_lib.KnowledgeError(f'--grow_knowledge adds to {grown}, but the search '
                                         f'started from {kb_dir}: give --knowledge={grown}')
    shutil.copytree(kb_dir, grown, ignore=shutil.ignore_patterns('lock', 'tensorboard'))
  knowledge_lib.add(grown, evaluator, task_features, run_dir, task)
  return grown


def summary_lines(summary):
  """The summary as a user reads it."""
  deployed, model, tfidf = summary['deployed'], summary['model'], summary['tfidf']
  splits = summary['splits']
  lines = [f'Task {summary["task"]} ({summary["task_file"]}): {len(summary["label_names"])} '
           f'labels, {splits["train"]} / {splits["validation"]} / {splits["test"]} train / '
           f'validation / test rows (one validation draw: standard error up to '
           f'{100 * summary["validation_standard_error"]:.1f} points)']
  if summary['nearest_tasks']:
    lines.append('Nearest known tasks: ' + ', '.join(
        f'{n["task"]} {n["similarity"]:.3f}' for n in summary['nearest_tasks']))
  lines += [
      f'Search: {summary["method"]}' + (f' from {summary["knowledge"]}' if summary['knowledge']
                                        else '') +
      f'; {summary["children"]} children ({summary["failed"]} failed), '
      f'{summary["child_seconds"] / 60:.1f} min of child training, '
      + (f'{summary["controller_seconds"] / 60:.1f} min of supernet training, '
         if summary['controller_seconds'] else '') +
      f'{summary["first_to_last_seconds"] / 60:.1f} min from the first child to the last',
      f'Deployed ({deployed["rule"]}, {deployed["draws"]} draw(s)): '
      f'{json.dumps(deployed["config"], sort_keys=True)}',
      f'  validation {deployed["mean_val_accuracy"]:.4f}, test '
      f'{deployed["mean_test_accuracy"]:.4f} (mean over its draws); the exported retrain: '
      f'validation {model["val_accuracy"]:.4f}, test {model["test_accuracy"]:.4f}',
      f'TF-IDF + logistic regression on the same split: validation {tfidf["val"]:.4f}, test '
      f'{tfidf["test"]:.4f} ({tfidf["detail"]})',
      f'Model: {model["path"]} (serving_default: text -> probabilities, label, label_name)']
  if summary['grown_knowledge']:
    lines.append(f'Added to the knowledge base at {summary["grown_knowledge"]}')
  return lines


def main(argv):
  del argv
  data_dir = cli.data_dir()
  try:
    cli.parse_gin_flags()
    task = cli.bind_task_file()  # after the gin flags: its user_tasks binding is the one
    summary = find_model(os.path.abspath(_ROOT_DIR.value), data_dir, task,
                         _MAX_CHILDREN.value, _MAX_SECONDS.value, not _NO_TRANSFER.value,
                         _METHOD.value, _KNOWLEDGE.value, _GROW.value, _WORKERS.value)
  except errors.UserError as e:
    errors.exit_with('find_model', e)
  print('\n'.join(summary_lines(summary)))


if __name__ == '__main__':
  flags.mark_flags_as_required(['task_file', 'root_dir'])
  app.run(main)
