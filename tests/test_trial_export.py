"""Trials where people look at them: the exported Optuna study reloads with the store's
trials and values, CSV holds every trial, nothing already written is overwritten, and a
run's TensorBoard logs carry its HParams."""
import csv
import dataclasses
import glob
import os

import optuna
import pytest
from tensorboard.plugins.hparams import plugin_data_pb2
import tensorflow as tf

import conftest
from mnms_tf.controllers import factory as controller_lib
from mnms_tf.search import runner
from mnms_tf.children import space as search_space
from mnms_tf.search import store as store_lib
from mnms_tf.evaluation import synthetic
from mnms_tf.search import trial_export

class _FailsSome(synthetic.SyntheticChildren):
  """Every fifth child fails, as a diverged or killed child would."""

  def _score(self, task, config, seed):
    result = super()._score(task, config, seed)
    if seed % 5 == 0:
      return dataclasses.replace(result, status=store_lib.FAILED, message='diverged',
                                 val_accuracy=0.0, test_accuracy=0.0, reward=0.0)
    return result


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('run'))
  evaluator = _FailsSome(synthetic.example_targets(search_space.SearchSpace().sizes))
  runner.search(root, runner.Budget(iterations=6), evaluator, tasks=['a', 'b'],
                create_controller=controller_lib.ControllerFactory(),
                children_per_iteration=8, seed=3)
  with store_lib.TrialStore(root, read_only=True) as store:
    rows = store.trials()
  assert any(r['status'] == store_lib.FAILED for r in rows)
  return root, rows


def test_the_optuna_study_reloads_with_the_stores_trials(run, tmp_path):
  root, rows = run
  url = f'sqlite:///{tmp_path / "trials.db"}'
  written = trial_export.to_optuna(root, url, 'mnms')
  assert written == {f'mnms:{t}': sum(r['task'] == t for r in rows) for t in ('a', 'b')}
  for task in ('a', 'b'):
    study = optuna.load_study(study_name=f'mnms:{task}', storage=url)
    stored = [r for r in rows if r['task'] == task]
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert len(study.trials) == len(stored)
    for trial, row in zip(study.trials, stored, strict=True):
      assert trial.params == row['config']
      assert trial.user_attrs['id'] == row['id']
      assert trial.user_attrs['iteration'] == row['iteration']
      assert trial.user_attrs['test_accuracy'] == row['test_accuracy']
      if row['status'] == store_lib.OK:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert trial.value == row['val_accuracy']
      else:
        assert trial.state == optuna.trial.TrialState.FAIL and trial.value is None
        assert trial.user_attrs['message'] == 'diverged'
    best = max((r for r in stored if r['status'] == store_lib.OK),
               key=lambda r: r['val_accuracy'])
    assert study.best_value == best['val_accuracy']
  # Optuna's own tools read it.
  assert optuna.importance.get_param_importances(
      optuna.load_study(study_name='mnms:a', storage=url))


def test_an_existing_study_or_file_is_refused_and_left_alone(run, tmp_path):
  root, _ = run
  url = f'sqlite:///{tmp_path / "trials.db"}'
  trial_export.to_optuna(root, url, 'mnms')
  with pytest.raises(trial_export.ExportError, match=r"already holds the studies \['mnms:a'"):
    trial_export.to_optuna(root, url, 'mnms')
  assert len(optuna.load_study(study_name='mnms:a', storage=url).trials) > 0
  path = tmp_path / 'trials.csv'
  path.write_text('mine\n')
  with pytest.raises(trial_export.ExportError, match='exists already'):
    trial_export.to_csv(root, str(path))
  assert path.read_text() == 'mine\n'


def test_the_binary_writes_csv_and_explains_a_bad_target(run, tmp_path):
  root, rows = run
  path = tmp_path / 'trials.csv'
  result = conftest.run_binary('mnms_tf.bin.export_trials', f'--root_dir={root}',
                               f'--to=csv:{path}')
  assert result.returncode == 0, result.stderr[-2000:]
  with open(path, newline='') as f:
    table = list(csv.DictReader(f))
  assert [int(r['id']) for r in table] == [r['id'] for r in rows]
  assert [r['embedding'] for r in table] == [r['config']['embedding'] for r in rows]
  result = conftest.run_binary('mnms_tf.bin.export_trials', f'--root_dir={root}',
                               '--to=parquet:x')
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      "export_trials: error: --to must be optuna:<storage URL> or csv:<path>, got 'parquet:x'")


def test_a_run_records_its_hparams_for_tensorboards_table(run):
  root, _ = run
  starts = []
  for path in glob.glob(os.path.join(root, 'tensorboard', 'events.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name == 'hparams':
          data = plugin_data_pb2.HParamsPluginData.FromString(
              value.metadata.plugin_data.content)
          if data.HasField('session_start_info'):
            starts.append(data.session_start_info)
  assert len(starts) == 1
  hparams = {k: v.WhichOneof('kind') and getattr(v, v.WhichOneof('kind'))
             for k, v in starts[0].hparams.items()}
  assert hparams == {'controller': 'mnms', 'seed': 3.0, 'tasks': 'a,b', 'init_from': '',
                     'task_embedding_init': 'random', 'initial_configs': '',
                     'pipelined': True}
