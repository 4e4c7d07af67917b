"""A run's trials where people already look at searches: an Optuna study per task (so
optuna-dashboard and optuna.visualization work on an MNMS search) and CSV.

Optuna: each stored trial becomes a finished trial of the study `<prefix>:<task>` with the
search space's choices as categorical distributions, the validation accuracy as its value
(direction: maximize) and user attributes test_accuracy, seconds, status, iteration, slot,
seed, config_hash and the store's trial id; a failed child is a FAIL trial with its
message. Optuna's storage does the writing; a study that exists already is refused, so an
export never mixes with or changes what a storage holds.
"""
import csv
import os

import optuna

from mnms_tf import errors
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import store as store_lib

ATTRIBUTES = ('test_accuracy', 'seconds', 'status', 'iteration', 'slot', 'seed',
              'config_hash', 'id')


class ExportError(errors.UserError, ValueError):
  pass


def _rows(root_dir):
  run_dir_lib.read_info(root_dir)  # a clear error for a directory that is not a run
  with store_lib.TrialStore(root_dir, read_only=True) as store:
    return store.trials()


def to_optuna(root_dir, storage_url, prefix):
  """Writes one study per task; returns {study name: trials written}."""
  info = run_dir_lib.read_info(root_dir)
  space = run_dir_lib.restore_search_space(info)
  distributions = {k: optuna.distributions.CategoricalDistribution(v)
                   for k, v in space.choices.items()}
  rows = _rows(root_dir)
  try:
    storage = optuna.storages.get_storage(storage_url)
  except Exception as e:  # pylint: disable=broad-except  # SQLAlchemy and Optuna raise many
    raise ExportError(f'Cannot open the Optuna storage {storage_url!r}: {errors.one_line(e)}')
  existing = {s.study_name for s in storage.get_all_studies()}
  names = {task: f'{prefix}:{task}' for task in info['tasks']}
  clashes = sorted(set(names.values()) & existing)
  if clashes:
    raise ExportError(f'{storage_url} already holds the studies {clashes}; delete them or '
                      f'choose another --study_prefix')
  written = {}
  for task, name in names.items():
    study = optuna.create_study(storage=storage, study_name=name, direction='maximize')
    study.set_user_attr('root_dir', root_dir)
    trials = []
    for row in (r for r in rows if r['task'] == task):
      ok = row['status'] == store_lib.OK
      attributes = {k: row[k] for k in ATTRIBUTES}
      if not ok:
        attributes['message'] = row['message']
      trials.append(optuna.trial.create_trial(
          state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL,
          value=row['val_accuracy'] if ok else None, params=space.validate(row['config']),
          distributions=distributions, user_attrs=attributes))
    study.add_trials(trials)
    written[name] = len(trials)
  return written


def to_csv(root_dir, path):
  """One row per trial: the store's columns and one column per search-space parameter."""
  info = run_dir_lib.read_info(root_dir)
  keys = list(run_dir_lib.restore_search_space(info).keys)
  rows = _rows(root_dir)
  if os.path.exists(path):
    raise ExportError(f'{path} exists already; choose a new file')
  columns = ['task', 'val_accuracy', 'message'] + list(ATTRIBUTES)
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(columns + keys)
    for row in rows:
      writer.writerow([row[c] for c in columns] + [row['config'].get(k) for k in keys])
  return len(rows)
