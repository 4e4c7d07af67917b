"""The search runner, trial store, worker pool and export, on two tiny tasks made here."""
import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import gin
import numpy as np
import psutil
import pytest
import tensorflow as tf

import conftest
from mnms_tf.children import trainer as child
from mnms_tf.children import result as result_lib
from mnms_tf.data import summary as data_summary
from mnms_tf.evaluation import evaluators
from mnms_tf import paths
from mnms_tf.search import checkpoints
from mnms_tf.search import run_dir
from mnms_tf.search import runner
from mnms_tf.children import space as search_space
from mnms_tf.search import store as store_lib
from mnms_tf.data.tasks import registry as task_registry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = ['tiny_sentiment', 'tiny_language']


def _write_task(path, label_of):
  rng = np.random.default_rng(0)
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['text', 'label'])
    for i in range(200):
      text, label = label_of(i)
      filler = ' '.join(rng.choice(['the', 'movie', ','], size=rng.integers(1, 4)))
      writer.writerow([f'{filler} {text} {filler}', label])


@pytest.fixture
def search_gin(tmp_path, tiny_module):
  """A gin file binding two tiny tasks, the tiny module and mnms_tf/gin/search/tiny_test.gin."""
  _write_task(tmp_path / 'sentiment.csv',
              lambda i: ('good', 'pos') if i % 2 else ('bad', 'neg'))
  _write_task(tmp_path / 'language.csv',
              lambda i: ('canción', 'es') if i % 2 else ('movie movie', 'en'))
  tasks = '\n'.join(f"""
      {name}/FileTask.name = '{name}'
      {name}/FileTask.path = '{tmp_path / f"{name.split('_')[1]}.csv"}'
      {name}/FileTask.text_column = 'text'
      {name}/FileTask.label_column = 'label'""" for name in TASKS)
  text = f"""
      include 'search/tiny_test.gin'
      import mnms_tf.data.embeddings.registry
      import mnms_tf.data.tasks.registry
      module_handles.handles = {{'en-dim50': '{tiny_module[0]}', 'es-dim50': '{tiny_module[0]}'}}
      {tasks}
      user_tasks.tasks = [@tiny_sentiment/FileTask(), @tiny_language/FileTask()]
      search.tasks = {TASKS}
  """
  path = tmp_path / 'search.gin'
  path.write_text(text)
  return str(path)


def _parse(search_gin, *bindings):
  from mnms_tf import configs  # pylint: disable=g-import-not-at-top
  configs.parse([search_gin], bindings)


def _search(root_dir, iterations, **kwargs):
  with evaluators.Children(paths.default_data_dir()) as in_process:
    return runner.search(str(root_dir), runner.Budget(iterations=iterations), in_process,
                         **kwargs)


def _binary(module, *args):
  """The binary `module` run in this process (conftest.run_binary)."""
  return conftest.run_binary(module, *args)


def _process(module, *args, timeout=300):
  """The binary `module` in a fresh process: for what a second process is about."""
  return subprocess.run([sys.executable, '-m', module, *args], cwd=REPO, capture_output=True,
                        text=True, timeout=timeout)


def _rows(root_dir):
  with store_lib.TrialStore(str(root_dir), read_only=True) as store:
    return store.trials()


def _key(row):
  return (row['iteration'], row['slot'], row['task'], json.dumps(row['config'], sort_keys=True),
          row['val_accuracy'], row['status'])


@pytest.mark.slow  # a search on a worker process
def test_search_binary_runs_two_iterations_and_records_everything(search_gin, tmp_path):
  root = tmp_path / 'run'
  result = _binary('mnms_tf.bin.search', f'--root_dir={root}', f'--gin_file={search_gin}',
                   '--iterations=2', '--workers=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'iteration 2 ' in result.stderr and 'ETA' in result.stderr
  assert 'Sharding callback' not in result.stderr  # TF's note at every checkpoint is muted
  rows = _rows(root)
  assert len(rows) == 8 and {r['task'] for r in rows} <= set(TASKS)
  assert sorted((r['iteration'], r['slot']) for r in rows) == [(i, s) for i in range(2)
                                                                for s in range(4)]
  for row in rows:
    assert row['status'] == 'ok' and 0.0 <= row['val_accuracy'] <= 1.0
    assert row['reward'] == pytest.approx(row['val_accuracy'] ** 3)
    assert row['config_hash'] == search_space.config_hash(row['config'])
    assert row['worker'].startswith('worker-') and row['seconds'] > 0 and row['finished_at'] >= row[
        'started_at']
  info = json.loads((root / 'run.json').read_text())
  assert info['tasks'] == TASKS and info['controller']['kind'] == 'mnms'
  assert info['controller']['agent']['entropy_weight'] == 0.05
  assert info['evaluator']['trainer']['reward_exponent'] == 3.0
  _parse(search_gin)
  assert info['evaluator']['checksums']['tasks']['tiny_sentiment'] == (
      data_summary.split_checksums('tiny_sentiment', None))
  assert set(info['evaluator']['checksums']['modules']) == {'en-dim50', 'es-dim50'}
  assert 'search.children_per_iteration = 4' in (root / 'config.gin').read_text()
  operative = (root / 'operative_config.gin').read_text()
  assert 'AgentSettings.' in operative and 'ChildTrainer.' in operative
  assert tf.train.latest_checkpoint(str(root / 'checkpoints')).endswith('-2')
  tags = set()
  for name in os.listdir(root / 'tensorboard'):
    for event in tf.compat.v1.train.summary_iterator(str(root / 'tensorboard' / name)):
      tags.update(v.tag for v in event.summary.value)
  task = rows[0]['task']
  assert {f'{task}/reward_mean', f'{task}/val_accuracy_best',
          f'{task}/entropy', 'controller/actor_loss', f'controller/baseline/{task}'} <= tags


@pytest.mark.slow  # kill -9 of a real search process, 3 searches
def test_sigkill_at_any_moment_then_resume_loses_and_repeats_nothing(search_gin, tmp_path):
  """Kills the real binary (2 worker processes) with children in flight, past a checkpoint,
  resumes it, and compares with an uninterrupted serial run."""
  args = [f'--gin_file={search_gin}', '--iterations=4']
  reference = _binary('mnms_tf.bin.search', f'--root_dir={tmp_path / "reference"}', *args,
                      '--workers=1')
  assert reference.returncode == 0, reference.stderr[-3000:]
  root = tmp_path / 'killed'
  args.append('--workers=2')
  process = subprocess.Popen([sys.executable, '-m', 'mnms_tf.bin.search', f'--root_dir={root}',
                              *args], cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
  watchdog = threading.Timer(240, process.kill)  # a hung search ends the wait below
  watchdog.start()
  # Its log says when iteration 2 is learned from and checkpointed; iteration 3 (sampled
  # ahead) is training then on both workers, and iteration 4, the last, is sampled.
  logged = []
  for line in process.stderr:
    logged.append(line)
    if '] iteration 2 ' in line:
      break
  workers_of_search = psutil.Process(process.pid).children(recursive=True)
  process.send_signal(signal.SIGKILL)
  process.wait()
  watchdog.cancel()
  process.stderr.close()
  assert '] iteration 2 ' in logged[-1], ''.join(logged)[-3000:]
  assert (root / 'checkpoints' / 'checkpoint').exists()
  with sqlite3.connect(f'file:{root / "trials.sqlite"}?mode=ro', uri=True) as db:
    stored = db.execute('SELECT count(*) FROM trials').fetchone()[0]
  assert 8 <= stored < 16, f'the search was not killed mid-way (stored {stored})'
  assert len(workers_of_search) >= 2  # the workers (and multiprocessing's resource tracker)
  _, alive = psutil.wait_procs(workers_of_search, timeout=15)
  assert not alive, f'worker processes outlived the killed search: {alive}'
  resumed = _binary('mnms_tf.bin.search', f'--root_dir={root}', *args)
  assert resumed.returncode == 0, resumed.stderr[-3000:]
  assert 'Resuming' in resumed.stderr
  rows = _rows(root)
  assert len({(r['iteration'], r['slot']) for r in rows}) == len(rows) == 16
  assert [_key(r) for r in rows] == [_key(r) for r in _rows(tmp_path / 'reference')]
  operative = (root / 'operative_config.gin').read_text()  # written by the 2-worker run
  assert 'ChildTrainer.batch_size = 100' in operative and 'module_handles.handles' in operative


@pytest.mark.slow  # three searches on real children
def test_transfer_adds_new_tasks_and_starts_an_empty_replay_bank(search_gin, tmp_path):
  _parse(search_gin)
  _search(tmp_path / 'pretrained', 2)
  with gin.unlock_config():
    gin.parse_config(f"""
      search.tasks = ['tiny_new']
      search.seed = 1
      tiny_new/FileTask.name = 'tiny_new'
      tiny_new/FileTask.path = '{tmp_path / 'sentiment.csv'}'
      tiny_new/FileTask.text_column = 'text'
      tiny_new/FileTask.label_column = 'label'
      user_tasks.tasks = [@tiny_sentiment/FileTask(), @tiny_language/FileTask(),
                          @tiny_new/FileTask()]""")
  _search(tmp_path / 'transfer', 1, init_from=str(tmp_path / 'pretrained'))
  info = run_dir.read_info(str(tmp_path / 'transfer'))
  assert info['controller_tasks'] == TASKS + ['tiny_new']
  assert info['init_from'] == str(tmp_path / 'pretrained')
  reader = tf.train.load_checkpoint(str(tmp_path / 'transfer' / 'checkpoints'))
  counts = reader.get_tensor('controller/replay/counts/.ATTRIBUTES/VARIABLE_VALUE')
  np.testing.assert_array_equal(counts, [0, 0, 4])
  # Without its checkpoints the run replays its stored children from the pre-trained
  # controller again (a fresh one would sample other configs and be refused).
  before = _rows(tmp_path / 'transfer')
  shutil.rmtree(tmp_path / 'transfer' / 'checkpoints')
  _search(tmp_path / 'transfer', 1)
  assert _rows(tmp_path / 'transfer') == before
  np.testing.assert_array_equal(
      tf.train.load_checkpoint(str(tmp_path / 'transfer' / 'checkpoints')).get_tensor(
          'controller/replay/counts/.ATTRIBUTES/VARIABLE_VALUE'), [0, 0, 4])
  pretrained = tf.train.load_checkpoint(str(tmp_path / 'pretrained' / 'checkpoints'))
  # The old tasks' embeddings were kept (one learner step moves them only a little).
  name = 'controller/actor/0/.ATTRIBUTES/VARIABLE_VALUE'
  old, new = pretrained.get_tensor(name), reader.get_tensor(name)
  assert new.shape == (3, old.shape[1]) and np.abs(new[:2] - old).max() < 0.05


@pytest.mark.parametrize('pipelined', [False, True])
def test_random_search_and_reuse_of_evaluated_configs(search_gin, tmp_path, pipelined):
  """A child is reused iff its config was trained in an iteration that was complete when
  its own was sampled: any earlier one, or pipelined, any but the one just before."""
  _parse(search_gin, 'ControllerFactory.kind = "random"', 'search.reuse_evaluated = True',
         f'search.pipelined = {pipelined}',
         "SearchSpace.choices = {'embedding': ('en-dim50',), 'trainable': (False,), "
         "'nlayers': (0, 1), 'nnodes': (10,), 'learning_rate': (0.3,), 'iterations': (10,), "
         "'regularization': (0.0,)}")
  summary = _search(tmp_path / 'random', 3)
  assert summary['children'] == 12
  rows = _rows(tmp_path / 'random')
  by_id = {r['id']: r for r in rows}
  reused = [r for r in rows if r['reused_from'] is not None]
  lag = 2 if pipelined else 1
  for row in rows:
    trained_before = [r for r in rows if r['reused_from'] is None and r['status'] == 'ok' and
                      (r['task'], r['config_hash']) == (row['task'], row['config_hash']) and
                      r['iteration'] <= row['iteration'] - lag]
    assert (row['reused_from'] is not None) == bool(trained_before)
    if trained_before:
      assert row['reused_from'] == trained_before[0]['id']
  assert len(reused) >= (12 - 2 * len(TASKS) - 4 * pipelined)
  for row in reused:
    original = by_id[row['reused_from']]
    assert (row['task'], row['config'], row['val_accuracy']) == (
        original['task'], original['config'], original['val_accuracy'])
  with gin.unlock_config():
    gin.bind_parameter('ControllerFactory.kind', 'mnms')
  for source, message in ((tmp_path / 'random', 'is a random search'),
                          (tmp_path / 'nowhere', 'not a search run directory')):
    with pytest.raises(runner.RunDirError, match=message):
      _search(tmp_path / 'transfer', 1, init_from=str(source))
  assert not (tmp_path / 'transfer').exists()


def test_bad_input_is_a_specific_error_and_leaves_the_run_alone(search_gin, tmp_path):
  root = tmp_path / 'run'
  bad = _binary('mnms_tf.bin.search', f'--root_dir={root}', f'--gin_file={search_gin}',
                '--iterations=1', '--gin_bindings=search.taskz = []')
  assert bad.returncode == 1 and 'Bad gin config' in bad.stderr and 'taskz' in bad.stderr
  assert not root.exists()
  _parse(search_gin)
  with pytest.raises(task_registry.UnknownTaskError, match="'nope'"):
    _search(root, 1, tasks=['nope'])
  _search(root, 2)
  before = [_key(r) for r in _rows(root)]
  with pytest.raises(runner.RunDirError, match='other settings.*tasks'):
    _search(root, 3, tasks=['tiny_language'])
  with pytest.raises(runner.RunDirError, match='children_per_iteration'):
    _search(root, 3, children_per_iteration=2)
  config_gin = (root / 'config.gin').read_text()
  with gin.unlock_config():
    gin.parse_config('AgentSettings.entropy_weight = 0.01\nChildTrainer.batch_size = 50')
  with pytest.raises(runner.RunDirError) as refused:
    _search(root, 3)
  assert ('controller.agent.entropy_weight: stored 0.05, now 0.01' in str(refused.value) and
          'evaluator.trainer.batch_size: stored 100, now 50' in str(refused.value))
  assert (root / 'config.gin').read_text() == config_gin
  with gin.unlock_config():
    gin.parse_config('AgentSettings.entropy_weight = 0.05\nChildTrainer.batch_size = 100')
  for name in os.listdir(root / 'checkpoints'):
    if '.data' in name:
      (root / 'checkpoints' / name).write_bytes(b'garbage' * 100)
  with pytest.raises(checkpoints.CheckpointError, match='no checkpoint is readable.*untouched.*replaying'):
    _search(root, 3)
  assert [_key(r) for r in _rows(root)] == before
  with pytest.raises(store_lib.StoreError, match='no trial store|No trial store'):
    store_lib.TrialStore(str(tmp_path / 'nowhere'), read_only=True)
  (tmp_path / 'broken').mkdir()
  (tmp_path / 'broken' / store_lib.FILENAME).write_bytes(b'not a database' * 100)
  with pytest.raises(store_lib.StoreError, match='unreadable'):
    store_lib.TrialStore(str(tmp_path / 'broken'))
  assert (tmp_path / 'broken' / store_lib.FILENAME).read_bytes() == b'not a database' * 100


@pytest.mark.slow  # two searches on real children (tests/test_run_dir.py: the migrations, fast)
def test_a_run_from_before_whole_vocabulary_training_resumes_only_without_it(search_gin,
                                                                            tmp_path):
  _parse(search_gin)
  root = tmp_path / 'run'
  _search(root, 1)
  info = json.loads((root / run_dir.RUN_INFO).read_text())
  del info['evaluator']['trainer']['whole_vocabulary_share']
  (root / run_dir.RUN_INFO).write_text(json.dumps(info))
  with pytest.raises(runner.RunDirError,
                     match='evaluator.trainer.whole_vocabulary_share: stored None, now 0.75'):
    _search(root, 2)
  with gin.unlock_config():
    gin.parse_config('ChildTrainer.whole_vocabulary_share = None')
  _search(root, 2)
  assert sorted({r['iteration'] for r in _rows(root)}) == [0, 1]


def test_trial_store_refuses_a_second_copy_and_finds_the_best(tmp_path):
  def result(val, status='ok'):
    config = {'x': val}
    return result_lib.ChildResult(task='t', config=config, config_hash=search_space.config_hash(config),
                             seed=1, status=status, val_accuracy=val, reward=val ** 3)
  with store_lib.TrialStore(str(tmp_path)) as store:
    store.add(0, 0, result(0.5), 'main', time.time())
    store.add(0, 1, result(0.9, 'failed'), 'main', time.time())
    store.add(1, 0, result(0.7), 'main', time.time())
    with pytest.raises(store_lib.StoreError, match='stored already'):
      store.add(1, 0, result(0.8), 'main', time.time())
    assert store.count() == 3 and store.best('t')['val_accuracy'] == 0.7
    assert store.evaluated('t', search_space.config_hash({'x': 0.5}))['id'] == 1
    assert store.evaluated('t', search_space.config_hash({'x': 0.9})) is None  # failed
    assert [r['slot'] for r in store.trials(status='ok')] == [0, 0]
    assert [(r['iteration'], r['slot']) for r in store.last_iterations('t', 1)] == [(1, 0)]
    assert len(store.last_iterations('t', 5)) == 3


@pytest.mark.slow  # a fresh TensorFlow process loads the export
def test_exported_best_model_classifies_strings_in_a_fresh_process(search_gin, tmp_path):
  _parse(search_gin, "search.tasks = ['tiny_sentiment']",
         "SearchSpace.choices = {'embedding': ('en-dim50',), 'trainable': (False, True), "
         "'nlayers': (1,), 'nnodes': (10,), 'learning_rate': (0.3,), 'iterations': (100,), "
         "'regularization': (0.0,)}")
  _search(tmp_path / 'run', 1)
  best = max(_rows(tmp_path / 'run'), key=lambda r: r['val_accuracy'])
  output = tmp_path / 'export'
  result = _binary('mnms_tf.bin.export_best', f'--root_dir={tmp_path / "run"}',
                   '--task=tiny_sentiment', f'--output={output}')
  assert result.returncode == 0, result.stderr[-3000:]
  metadata = json.loads((output / 'mnms_config.json').read_text())
  assert metadata['config'] == best['config'] and metadata['label_names'] == ['neg', 'pos']
  assert metadata['val_accuracy'] == best['val_accuracy']  # retrained with the stored seed
  script = (f"import tensorflow as tf\n"
            f"m = tf.saved_model.load({str(output)!r})\n"
            f"out = m.signatures['serving_default'](text=tf.constant(['the good movie', "
            f"'bad , the', 'good']))\n"
            f"print(out['label'].numpy().tolist())")
  loaded = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          timeout=300)
  assert loaded.returncode == 0, loaded.stderr[-3000:]
  assert loaded.stdout.strip().splitlines()[-1] == '[1, 0, 1]'
  again = _binary('mnms_tf.bin.export_best', f'--root_dir={tmp_path / "run"}',
                  '--task=tiny_sentiment', f'--output={output}')
  assert again.returncode == 1 and 'exists already' in again.stderr


@pytest.mark.slow  # two fresh processes
def test_a_second_process_is_refused_and_a_killed_holder_does_not_block(search_gin, tmp_path):
  root = tmp_path / 'run'
  with run_dir.RunDir(str(root)).lock():
    refused = _process('mnms_tf.bin.search', f'--root_dir={root}', f'--gin_file={search_gin}',
                       '--iterations=1')
  assert refused.returncode == 1, refused.stderr[-2000:]
  assert refused.stderr.strip().splitlines()[-1] == (
      f'search: error: {root} is in use by another search (PID {os.getpid()}); wait for it '
      f'or stop it first')
  assert not (root / 'run.json').exists()
  holder = subprocess.Popen([sys.executable, '-c', (
      'import signal\nfrom mnms_tf.search import run_dir\n'
      f'with run_dir.RunDir({str(root)!r}).lock():\n  print("locked", flush=True)\n'
      '  signal.pause()')], cwd=REPO, stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'locked'
  holder.send_signal(signal.SIGKILL)
  holder.wait()
  with run_dir.RunDir(str(root)).lock():
    assert (root / 'lock').read_text().strip() == str(os.getpid())


def test_budgets_in_children_and_seconds(search_gin, tmp_path):
  _parse(search_gin)
  with evaluators.Children(paths.default_data_dir()) as in_process:
    summary = runner.search(str(tmp_path / 'run'), runner.Budget(children=6), in_process)
    assert summary['iterations'] == 2 and summary['children'] == 8
    again = runner.search(str(tmp_path / 'run'), runner.Budget(seconds=0), in_process)
  assert again['iterations'] == 2 and again['children'] == 8


def test_configs_that_train_the_same_child_are_one(search_gin, tmp_path):
  _parse(search_gin, 'search.reuse_evaluated = True', "search.tasks = ['tiny_sentiment']",
         'search.pipelined = False',  # iteration 1 reuses iteration 0's children
         "SearchSpace.choices = {'embedding': ('en-dim50',), 'trainable': (False,), "
         "'nlayers': (0,), 'nnodes': (10, 50), 'learning_rate': (0.3,), 'iterations': (10,), "
         "'regularization': (0.0,)}")
  space = search_space.SearchSpace()
  with_10, with_50 = space.to_config([0, 0, 0, 0, 0, 0, 0]), space.to_config([0, 0, 0, 1, 0, 0, 0])
  assert space.config_hash(with_10) == space.config_hash(with_50)
  assert space.canonical(with_50)['nnodes'] is None
  assert space.config_hash(dict(with_10, nlayers=1)) != space.config_hash(dict(with_50, nlayers=1))
  _search(tmp_path / 'run', 2)
  rows = _rows(tmp_path / 'run')
  assert {r['config']['nnodes'] for r in rows} == {10, 50}  # the configs as sampled
  # The first iteration trains its 4 children; every child of the second is a copy, whatever
  # its nnodes.
  assert [r['reused_from'] is None for r in rows] == [True] * 4 + [False] * 4
  assert {r['config']['nnodes'] for r in rows[4:]} == {10, 50}


@pytest.mark.slow  # worker processes
def test_a_worker_killed_in_a_search_is_one_failed_trial_and_never_retrained(search_gin,
                                                                              tmp_path):
  _parse(search_gin)
  root = str(tmp_path / 'run')
  killed = []
  with evaluators.Children(paths.default_data_dir(), num_workers=1) as pool_evaluator:
    pool = pool_evaluator.pool
    dispatch = pool._dispatch  # pylint: disable=protected-access

    def dispatch_then_kill_the_worker():
      dispatch()
      if not killed and pool.worker_pids():  # the first child has gone to its worker
        killed.extend(pool.worker_pids())
        os.kill(killed[0], signal.SIGKILL)

    pool._dispatch = dispatch_then_kill_the_worker  # pylint: disable=protected-access
    summary = runner.search(root, runner.Budget(iterations=2), pool_evaluator)
  assert summary['iterations'] == 2 and killed
  rows = _rows(root)
  failed = [r for r in rows if r['status'] == 'failed']
  assert len(failed) == 1 and f'worker process {killed[0]} died' in failed[0]['message']
  assert 'SIGKILL' in failed[0]['message'] and failed[0]['reward'] == 0.0
  assert sum(r['status'] == 'ok' for r in rows) == 7
  shutil.rmtree(os.path.join(root, 'checkpoints'))  # replays both iterations from the store
  _search(root, 2)
  assert _rows(root) == rows


def test_the_example_user_task_gin_parses_and_its_task_trains(tmp_path, tiny_module):
  path = tmp_path / 'reviews.tsv'
  path.write_text('review\tstars\n' + ''.join(
      f'{"good movie" if i % 2 else "bad movie"} {i}\t{"5" if i % 2 else "1"}\n'
      for i in range(60)))
  from mnms_tf import configs  # pylint: disable=g-import-not-at-top
  configs.parse(['examples/user_task.gin'], [
      f"my_reviews/FileTask.path = '{path}'",
      f"module_handles.handles = {{'en-dim50': '{tiny_module[0]}'}}"])
  assert task_registry.check_task('my_reviews', None)['num_classes'] == 2
  result = child.ChildTrainer().train('my_reviews', {
      'embedding': 'en-dim50', 'trainable': True, 'nlayers': 1, 'nnodes': 10,
      'learning_rate': 0.3, 'iterations': 100, 'regularization': 0.0}, seed=0)
  assert result.status == 'ok' and result.val_accuracy > 0.5, result


@pytest.mark.slow  # end-to-end reproduction: 8 searches, each with a worker process
def test_reproduce_end_to_end_on_tiny_tasks(tmp_path, tiny_module):
  """The whole reproduction (two seeds of tiny searches, baselines, every figure, the table
  and REPORT.md) on tiny files that take the offline tasks' names."""
  tasks = []
  for name, (positive, negative) in {
      'spanish_langid': ('canción', 'movie'), 'rt_snippets': ('good', 'bad'),
      'polarity_reviews': ('good movie', 'bad movie'), 'es_tweets': ('canción buena', 'mala')
  }.items():
    _write_task(tmp_path / f'{name}.csv',
                lambda i, p=positive, n=negative: (p, 'pos') if i % 2 else (n, 'neg'))
    tasks.append(f"""
        {name}/FileTask.name = '{name}'
        {name}/FileTask.path = '{tmp_path / f"{name}.csv"}'
        {name}/FileTask.text_column = 'text'
        {name}/FileTask.label_column = 'label'""")
  handles = {slot: tiny_module[0] for slot in ('en-dim50', 'en-dim128', 'es-dim50', 'es-dim128')}
  (tmp_path / 'tiny.gin').write_text('\n'.join([
      "include 'search/tiny_test.gin'", 'import mnms_tf.children.baselines',
      'import mnms_tf.data.embeddings.registry', 'import mnms_tf.data.tasks.registry',
      f'module_handles.handles = {handles}', *tasks,
      'user_tasks.tasks = [' + ', '.join(f'@{n}/FileTask()' for n in (
          'spanish_langid', 'rt_snippets', 'polarity_reviews', 'es_tweets')) + ']',
      "hand_tuned_config.embeddings = {'en': 'en-dim50', 'es': 'es-dim50', 'multi': 'es-dim50'}",
      'hand_tuned_config.nnodes = 10', 'hand_tuned_config.learning_rate = 0.3',
      'hand_tuned_config.iterations = 20', 'hand_tuned_config.regularization = 0.001']))
  output = tmp_path / 'figures'
  result = _binary('mnms_tf.bin.reproduce', f'--root_dir={tmp_path / "reproduction"}',
                   f'--output_dir={output}', '--seeds=2', '--multitask_iterations=2',
                   '--transfer_iterations=1', '--workers=1',
                   f'--gin_file={tmp_path / "tiny.gin"}')
  assert result.returncode == 0, result.stderr[-3000:]
  for experiment in ('multitask', 'transfer', 'scratch', 'on_policy'):
    for seed in (0, 1):
      info = run_dir.read_info(str(tmp_path / 'reproduction' / experiment / f'seed_{seed}'))
      assert info['seed'] == seed
  assert info['controller']['agent']['mode'] == 'on_policy'
  for name in ('fig2_multitask_search.png', 'fig3_parameter_distributions.png',
               'fig4_transfer.png', 'fig5_task_embeddings.png', 'results_table.md',
               'results_table.csv', 'REPORT.md'):
    assert (output / name).stat().st_size > 0, name
  report = (output / 'REPORT.md').read_text()
  assert 'Transfer starts better' in report and 'hand-tuned' in report


@pytest.mark.slow  # a search, a value network fit and two children
def test_suggest_binary_learns_from_the_other_tasks_and_trains_its_suggestions(search_gin,
                                                                              tmp_path):
  _parse(search_gin, "search.tasks = ['tiny_sentiment']")  # tiny_language is new
  _search(tmp_path / 'run', 2)
  result = _binary('mnms_tf.bin.suggest', '--task=tiny_language', f'--runs={tmp_path / "run"}',
                   '--top_k=2', '--train', f'--model_dir={tmp_path / "network"}',
                   f'--gin_file={search_gin}', "--gin_bindings=ValueNetworkSettings.epochs = 20")
  assert result.returncode == 0, result.stderr[-3000:]
  lines = [l for l in result.stdout.splitlines() if l[:3] in ('1. ', '2. ')]
  assert len(lines) == 2 and all(' | trained: val ' in l for l in lines), result.stdout
  configs = [json.loads(l.split(' | ')[-1]) for l in lines]
  assert configs[0] != configs[1]
  info = json.loads((tmp_path / 'network' / 'value_network.json').read_text())
  assert info['excluded_tasks'] == ['tiny_language'] and info['tasks'] == ['tiny_sentiment']
  assert info['num_trials'] == 8
  result = _binary('mnms_tf.bin.suggest', '--task=no_such_task', f'--runs={tmp_path / "run"}',
                   f'--gin_file={search_gin}')
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith("suggest: error: Unknown task")
