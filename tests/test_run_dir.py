"""run.json's schema and migrations, applied by every reader: a run written before the
settings added since, and before the package was cut into subpackages, still resumes,
exports and suggests with the settings it was made with."""
import contextlib
import json
import sqlite3

import gin
import pytest

from mnms_tf import configs
from mnms_tf.bin import suggest
from mnms_tf.children import trainer as child
from mnms_tf.evaluation import evaluators
from mnms_tf.search import export as export_lib
from mnms_tf.search import run_dir
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib

SPACE = ("SearchSpace.choices = {'embedding': ('en-dim50',), 'trainable': (False, True), "
         "'nlayers': (0,), 'nnodes': (10,), 'learning_rate': (0.3,), 'iterations': (20,), "
         "'regularization': (0.0,)}")
ADDED_SINCE = ('pipelined', 'task_embedding_init', 'task_embedding_temperature',
               'initial_configs', 'num_initial_configs', 'value_network', 'configs_from',
               'architecture_init', 'architectures', 'hyperparameters_from')


@pytest.fixture
def two_tasks(tiny_task, tmp_path):
  """The tiny task twice, as 'tiny' and 'tiny_copy' (gin text parsed)."""
  path = gin.query_parameter('tiny/FileTask.path')
  copy = f"""
      tiny_copy/FileTask.name = 'tiny_copy'
      tiny_copy/FileTask.path = '{path}'
      tiny_copy/FileTask.text_column = 'text'
      tiny_copy/FileTask.label_column = 'label'
      user_tasks.tasks = [@tiny/FileTask(), @tiny_copy/FileTask()]"""
  with gin.unlock_config():
    gin.parse_config(copy)
  return str(tmp_path / 'data')


def _search(root, iterations, data_dir):
  with evaluators.Children(data_dir) as in_process:
    return runner.search(str(root), runner.Budget(iterations=iterations), in_process)


@pytest.fixture
def old_run(two_tasks, tmp_path):
  """A synchronous search of both tasks (its one iteration trains tiny_copy), its run.json and config.gin then made as a version
  of 2026-11-27 wrote them: none of the settings added since, the old module paths."""
  configs.parse(['search/tiny_test.gin'], ["search.tasks = ['tiny', 'tiny_copy']", SPACE,
                                           'search.pipelined = False',
                                           'ChildTrainer.whole_vocabulary_share = None'])
  root = tmp_path / 'run'
  _search(root, 1, two_tasks)
  info = json.loads((root / run_dir.RUN_INFO).read_text())
  for key in ADDED_SINCE:
    del info[key]
  with contextlib.closing(sqlite3.connect(root / store_lib.FILENAME)) as db:
    db.execute('DROP TABLE controller_seconds')  # (the trial store's, added since)
  del info['evaluator']['trainer']['whole_vocabulary_share']
  (root / run_dir.RUN_INFO).write_text(json.dumps(info))
  text = (root / run_dir.CONFIG_GIN).read_text()
  text = text[:text.index('\n# SearchSpace.choices in its own order')]  # restated since
  for old, new in run_dir.MOVED_MODULES.items():
    text = text.replace(f'import {new}', f'import {old}')
  assert 'import mnms_tf.runner' in text
  (root / run_dir.CONFIG_GIN).write_text(text)
  gin.clear_config()
  return root, two_tasks


def test_readers_see_the_settings_an_old_run_was_made_with(old_run):
  root, _ = old_run
  info = run_dir.read_info(str(root))
  assert info['pipelined'] is False and info['task_embedding_init'] == 'random'
  assert info['initial_configs'] is None and info['num_initial_configs'] == 4
  assert info['evaluator']['trainer']['whole_vocabulary_share'] is None
  assert info['architecture_init'] is None and info['hyperparameters_from'] is None
  with store_lib.TrialStore(str(root), read_only=True) as store:
    assert store.controller_seconds() == {} and store.count() == 4
  assert json.loads((root / run_dir.RUN_INFO).read_text()).get('pipelined') is None  # unchanged


def test_an_old_runs_config_gin_parses_with_its_modules_moved(old_run):
  root, _ = old_run
  with pytest.raises(Exception, match=r"No module named 'mnms_tf\."):
    gin.parse_config((root / run_dir.CONFIG_GIN).read_text())
  gin.clear_config()
  run_dir.parse_config_gin(str(root))
  assert gin.query_parameter('search.tasks') == ['tiny', 'tiny_copy']


def test_an_old_run_resumes_with_its_own_settings_only(old_run):
  root, data_dir = old_run
  run_dir.parse_config_gin(str(root))  # then, gin wrote the space's choices sorted by name
  with pytest.raises(runner.RunDirError, match=r"parameter order: stored \['embedding', "
                                               r"'trainable'.*now \['embedding', 'iterations'"):
    _search(root, 2, data_dir)
  with pytest.raises(runner.RunDirError, match='pipelined: stored False, now True'):
    with gin.unlock_config():
      gin.parse_config(SPACE + '\nsearch.pipelined = True')
    _search(root, 2, data_dir)
  with gin.unlock_config():
    gin.parse_config('search.pipelined = False')
  _search(root, 2, data_dir)
  with store_lib.TrialStore(str(root), read_only=True) as store:
    assert sorted({r['iteration'] for r in store.trials()}) == [0, 1]


def _spy_on_trainers(monkeypatch):
  made, real = [], child.ChildTrainer

  def spy(*args, **kwargs):
    made.append(real(*args, **kwargs))
    return made[-1]

  monkeypatch.setattr(child, 'ChildTrainer', spy)
  return made


def test_export_best_retrains_with_the_runs_own_trainer_settings(old_run, tmp_path,
                                                                  monkeypatch):
  root, data_dir = old_run
  made = _spy_on_trainers(monkeypatch)
  run_dir.parse_config_gin(str(root))
  metadata = export_lib.export(str(root), 'tiny_copy', str(tmp_path / 'export'), data_dir)
  assert [t.settings()['whole_vocabulary_share'] for t in made] == [None]
  assert metadata['val_accuracy'] == metadata['stored_val_accuracy']


def test_suggest_trains_with_the_runs_own_trainer_settings(old_run, tmp_path, monkeypatch):
  root, data_dir = old_run
  made = _spy_on_trainers(monkeypatch)
  run_dir.parse_config_gin(str(root))
  with gin.unlock_config():
    gin.parse_config('ValueNetworkSettings.epochs = 2\nValueNetworkSettings.ensemble_size = 1')
  rows = suggest.suggest('tiny', [str(root)], 1, True, str(tmp_path / 'network'),
                         data_dir)
  assert [t.settings()['whole_vocabulary_share'] for t in made] == [None]
  assert rows[0][2].status == 'ok'


def test_migrate_gin_renames_only_imports_of_moved_modules():
  text = ('import mnms_tf.runner as mnms_tf2\nimport mnms_tf.tasks.registry\n'
          'import mnms_tf.errors\nsearch.seed = 1  # mnms_tf.runner\n')
  assert run_dir.migrate_gin(text) == (
      'import mnms_tf.search.runner as mnms_tf2\nimport mnms_tf.data.tasks.registry\n'
      'import mnms_tf.errors\nsearch.seed = 1  # mnms_tf.runner\n')


def test_a_peer_run_from_before_its_settings_were_recorded_gets_the_defaults_it_used():
  for kind, used in (('tpe', {'constant_liar': True, 'n_startup_trials': 10,
                              'multivariate': False}),
                     ('keras_tuner', {'num_initial_points': None, 'alpha': 1e-4, 'beta': 2.6}),
                     ('mnms', None)):
    info = run_dir.migrate({'controller': {'kind': kind, 'agent': None}, 'evaluator': {}})
    assert info['controller']['peer'] == used


def test_the_migrations_peer_defaults_are_those_the_peers_had():
  from mnms_tf.controllers import peers  # pylint: disable=g-import-not-at-top
  assert run_dir._PEER_SETTINGS_BEFORE == peers.DEFAULTS  # pylint: disable=protected-access


def test_a_retried_search_waits_for_the_lock_only_while_it_is_held(tmp_path):
  run = run_dir.RunDir(str(tmp_path / 'run'))
  assert run.wait_until_free(0)  # no lock file yet
  with run.lock():
    assert not run.wait_until_free(0)
  assert run.wait_until_free(0)
  with run.lock():  # waiting took no lock of its own
    pass
