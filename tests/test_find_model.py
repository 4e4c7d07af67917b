"""A user's own task in one command: the knowledge base (built, checked, grown) and
find_model and suggest on a task file, on tiny tasks and a tiny module made here."""
import csv
import json
import os
import shutil
import subprocess
import sys

import gin
import numpy as np
import pytest

import conftest
# The binaries' configurables exist before a search locks gin (as in their own processes).
from mnms_tf.bin import find_model  # pylint: disable=unused-import
from mnms_tf.bin import suggest  # pylint: disable=unused-import
from mnms_tf.children import space as search_space
from mnms_tf.children import supernet
from mnms_tf import configs
from mnms_tf.data import features
from mnms_tf.evaluation import evaluators
from mnms_tf.evaluation import synthetic
from mnms_tf.experiments import ground_truth
from mnms_tf import paths
from mnms_tf.search import run_dir as run_dir_lib
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import knowledge
from mnms_tf.transfer import value_network

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KNOWN = ['tiny_sentiment', 'tiny_language']


def _write_task(path, label_of, rows=200, header=('text', 'label')):
  rng = np.random.default_rng(0)
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    for i in range(rows):
      text, label = label_of(i)
      filler = ' '.join(rng.choice(['the', 'movie', ','], size=rng.integers(1, 4)))
      writer.writerow([f'{filler} {text} {filler}', label])


def _gin(tmp, tiny_module, tasks=None):
  """The tiny search space and module, and `tasks` (name -> file) bound as user tasks."""
  tasks = tasks or {}
  bound = '\n'.join(f"""
      {name}/FileTask.name = '{name}'
      {name}/FileTask.path = '{path}'
      {name}/FileTask.text_column = 'text'
      {name}/FileTask.label_column = 'label'""" for name, path in tasks.items())
  users = ', '.join(f'@{name}/FileTask()' for name in tasks)
  path = tmp / f'tiny_{len(tasks)}.gin'
  path.write_text(f"""
      include 'search/tiny_test.gin'
      import mnms_tf.data.embeddings.registry
      import mnms_tf.data.tasks.registry
      import mnms_tf.transfer.knowledge
      import mnms_tf.transfer.value_network
      module_handles.handles = {{'en-dim50': '{tiny_module[0]}', 'es-dim50': '{tiny_module[0]}'}}
      ValueNetworkSettings.epochs = 20
      ValueNetworkSettings.ensemble_size = 2
      import mnms_tf.children.supernet
      SupernetSettings.steps = 20
      {bound}
      {'user_tasks.tasks = [' + users + ']' if tasks else ''}
  """)
  return str(path)


@pytest.fixture(scope='module')
def tiny_knowledge(tmp_path_factory, tiny_module):
  """(knowledge base over the two tiny tasks, the gin that finds and searches a new task,
  a user's task file). Built in this process, 2 pre-training iterations."""
  tmp = tmp_path_factory.mktemp('knowledge')
  _write_task(tmp / 'sentiment.csv', lambda i: ('good', 'pos') if i % 2 else ('bad', 'neg'))
  _write_task(tmp / 'language.csv',
              lambda i: ('canción', 'es') if i % 2 else ('movie movie', 'en'))
  _write_task(tmp / 'My Reviews.csv', lambda i: ('good good', 'liked') if i % 2 else
              ('bad', 'disliked'), header=('review', 'verdict'))
  build_gin = _gin(tmp, tiny_module, {'tiny_sentiment': tmp / 'sentiment.csv',
                                      'tiny_language': tmp / 'language.csv'})
  configs.parse([build_gin], [f'KnowledgeSettings.tasks = {KNOWN}',
                              'KnowledgeSettings.pretraining_iterations = 2'])
  kb_dir = str(tmp / 'kb')
  with evaluators.Children(paths.default_data_dir()) as evaluator:
    manifest = knowledge.build(kb_dir, evaluator, features.TaskFeatures.for_space(
        paths.default_data_dir(), evaluator.space))
  assert manifest['tasks'] == KNOWN
  with open(os.path.join(kb_dir, 'best_configs.json')) as f:  # (a task with trials has one)
    searched = sorted(t for t, best in json.load(f)['configs'].items() if best)
  assert searched and supernet.searched_tasks(os.path.join(kb_dir, 'architectures')) == searched
  gin.clear_config()  # as a test starts: no gin in force
  return kb_dir, _gin(tmp, tiny_module), str(tmp / 'My Reviews.csv')


def _find_model(gin_file, task_file, root, *args):
  return conftest.run_binary(
      'mnms_tf.bin.find_model', f'--task_file={task_file}', '--text_column=review',
      '--label_column=verdict', f'--root_dir={root}', f'--gin_file={gin_file}', '--workers=1',
      '--max_children=8', *args)


@pytest.mark.slow  # a search on a worker process, its export, a fresh process serving it
def test_find_model_searches_from_the_knowledge_exports_and_resumes(tiny_knowledge, tmp_path):
  kb_dir, gin_file, task_file = tiny_knowledge
  root = tmp_path / 'mine'
  result = _find_model(gin_file, task_file, root, f'--knowledge={kb_dir}',
                       '--method=warm_configs')
  assert result.returncode == 0, result.stderr[-3000:]
  summary = json.loads((root / 'summary.json').read_text())
  assert summary['task'] == 'my_reviews' and summary['children'] == 8
  assert summary['label_names'] == ['disliked', 'liked']
  assert [n['task'] for n in summary['nearest_tasks']] != [] and {
      n['task'] for n in summary['nearest_tasks']} <= set(KNOWN)
  info = run_dir_lib.read_info(str(root / 'search'))
  assert info['init_from'] == os.path.join(kb_dir, 'pretrain')
  assert info['initial_configs'] == 'nearest_best'
  # the warning a small validation split deserves (20 rows: up to 11.2 points)
  assert 'standard error of up to 11.2 points' in result.stderr
  for text in ('Nearest known tasks: ', 'TF-IDF + logistic regression on the same split',
               'Deployed (best_draw, '):
    assert text in result.stdout
  # the exported model classifies raw strings with the task's label names, in a new process
  served = subprocess.run([sys.executable, '-c', (
      'import sys, tensorflow as tf; m = tf.saved_model.load(sys.argv[1]); '
      'out = m.signatures["serving_default"](text=tf.constant(["good good", "bad"])); '
      'print([n.decode() for n in out["label_name"].numpy()])'), str(root / 'model')],
      capture_output=True, text=True, timeout=300, cwd=REPO)
  assert served.returncode == 0, served.stderr[-2000:]
  assert set(eval(served.stdout.strip().splitlines()[-1])) <= {'disliked', 'liked'}  # pylint: disable=eval-used
  # run again: nothing is trained again and the export is kept
  exported = (root / 'model' / 'mnms_config.json').read_text()
  again = _find_model(gin_file, task_file, root, f'--knowledge={kb_dir}',
                      '--method=warm_configs')
  assert again.returncode == 0, again.stderr[-3000:]
  with store_lib.TrialStore(str(root / 'search'), read_only=True) as store:
    assert store.count() == 8
  assert (root / 'model' / 'mnms_config.json').read_text() == exported
  # another method in the same directory is refused in one line; nothing changes
  other = _find_model(gin_file, task_file, root, f'--knowledge={kb_dir}', '--method=transfer')
  assert other.returncode == 1 and 'Traceback' not in other.stderr
  assert other.stderr.strip().splitlines()[-1].startswith('find_model: error: ')
  with store_lib.TrialStore(str(root / 'search'), read_only=True) as store:
    assert store.count() == 8


def test_find_model_warm_starts_a_differentiable_search_from_the_knowledge(tiny_knowledge,
                                                                          tmp_path):
  kb_dir, gin_file, task_file = tiny_knowledge
  root = tmp_path / 'darts'
  result = _find_model(gin_file, task_file, root, f'--knowledge={kb_dir}',
                       '--method=darts_meta')
  assert result.returncode == 0, result.stderr[-3000:]
  info = run_dir_lib.read_info(str(root / 'search'))
  assert info['controller']['kind'] == 'darts'
  source = info['architecture_sources']['my_reviews']
  assert source['init'] == os.path.join(kb_dir, 'architectures', 'meta')
  with open(os.path.join(kb_dir, 'best_configs.json')) as f:  # a known task's best
    best = json.load(f)['configs']
  assert source['hyperparameters'] in [supernet.hyperparameters_of(b[0]['config'])
                                       for b in best.values() if b]
  assert 'min of supernet training' in result.stdout
  assert json.loads((root / 'summary.json').read_text())['children'] == 8


@pytest.mark.slow  # a search, then the knowledge base fitted again with it
def test_a_search_from_scratch_grows_the_knowledge_and_suggest_reads_a_file(
    tiny_knowledge, tmp_path, monkeypatch):
  kb_dir, gin_file, task_file = tiny_knowledge
  data_dir = tmp_path / 'data'  # where the base grows: the tiny tasks and module need no data
  root = tmp_path / 'scratch'
  result = _find_model(gin_file, task_file, root, f'--knowledge={kb_dir}', '--no_transfer',
                       '--grow_knowledge', f'--data_dir={data_dir}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert run_dir_lib.read_info(str(root / 'search'))['init_from'] is None
  grown = data_dir / 'knowledge'
  manifest = json.loads((grown / 'manifest.json').read_text())
  assert manifest['added'] == ['my_reviews']
  network = value_network.load(str(grown / 'value_network'))
  assert 'my_reviews' in network.info['tasks'] and set(network.info['tasks']) <= set(
      KNOWN + ['my_reviews'])
  assert json.loads((grown / 'best_configs.json').read_text())['configs']['my_reviews']
  with open(os.path.join(kb_dir, 'manifest.json')) as f:
    assert json.load(f)['added'] == []  # the base it started from is kept as it was
  # suggest reads the grown base (the default once it exists) for a file, training nothing
  suggested = conftest.run_binary(
      'mnms_tf.bin.suggest', f'--task_file={task_file}', '--text_column=review',
      '--label_column=verdict', '--task_name=more_reviews', f'--gin_file={gin_file}',
      f'--data_dir={data_dir}', '--top_k=3')
  assert suggested.returncode == 0, suggested.stderr[-3000:]
  lines = [l for l in suggested.stdout.splitlines() if l[:3] in ('1. ', '2. ', '3. ')]
  assert len(lines) == 3 and str(grown) in suggested.stdout
  assert ' | trained' not in suggested.stdout


@pytest.mark.slow  # the tiny knowledge base
def test_a_knowledge_base_of_another_space_or_changed_is_refused_in_one_line(
    tiny_knowledge, tmp_path):
  kb_dir, gin_file, _ = tiny_knowledge
  configs.parse([gin_file], ["SearchSpace.choices = {'embedding': ('en-dim50',), "
                             "'trainable': (False,), 'nlayers': (0,), 'nnodes': (10,), "
                             "'learning_rate': (0.3,), 'iterations': (10,), "
                             "'regularization': (0.0,)}"])
  with pytest.raises(knowledge.KnowledgeError, match='built for another search space'):
    knowledge.load(kb_dir, evaluators.Children(paths.default_data_dir()))
  gin.clear_config()
  configs.parse([gin_file], [])
  copy = tmp_path / 'kb'
  shutil.copytree(kb_dir, copy)
  knowledge.load(str(copy), evaluators.Children(paths.default_data_dir()))
  with open(copy / 'best_configs.json', 'a') as f:
    f.write(' ')
  with pytest.raises(knowledge.KnowledgeError, match=r'changed since .*best_configs.json'):
    knowledge.load(str(copy), evaluators.Children(paths.default_data_dir()))
  with pytest.raises(knowledge.KnowledgeError, match='No knowledge base at .*build_knowledge'):
    knowledge.load(str(tmp_path / 'none'), evaluators.Children(paths.default_data_dir()))


def test_bad_task_files_are_one_line_errors_that_name_the_flag_to_fix(tmp_path):
  path = tmp_path / 'Reviews.csv'
  _write_task(path, lambda i: ('good', 'pos') if i % 2 else ('bad', 'neg'),
              header=('review', 'verdict'))
  root = tmp_path / 'r'
  for args, expected in (
      (['--task_file=/no/such.csv'],
       "Task 'such': no file at /no/such.csv; fix --task_file."),
      ([f'--task_file={path}'],  # the default columns: text, label
       "has no column(s) ['text', 'label']: its header is ['review', 'verdict']; fix "
       "--text_column, --label_column."),
      ([f'--task_file={path}', '--task_name=rt_snippets'],
       "The task name 'rt_snippets' is a built-in task's: give another (--task_name)"),
      ([f'--task_file={path}', '--text_column=review', '--label_column=verdict',
        '--max_children=0'], '--max_children must be at least 1, got 0')):
    result = conftest.run_binary('mnms_tf.bin.find_model', *args, f'--root_dir={root}')
    assert result.returncode == 1 and 'Traceback' not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].endswith(expected)
  assert not root.exists()


@pytest.mark.slow  # two value-network fits
def test_a_synthetic_knowledge_base_builds_with_a_ground_truth_and_grows(tmp_path):
  """Best configs by seed mean and a portfolio when a ground truth is given; a search for
  a new task joins the base."""
  configs.parse([], ['ValueNetworkSettings.epochs = 20', 'ValueNetworkSettings.ensemble_size = 2'])
  targets = synthetic.example_targets(search_space.SearchSpace().sizes)
  evaluator = synthetic.SyntheticChildren(targets)
  task_features = synthetic.SyntheticTaskFeatures(targets)
  space = evaluator.space
  pool = [space.sample(np.random.default_rng(i)) for i in range(6)]
  # config 0 is best on a, config 5 on b, config 3 good on both: the portfolio's first
  scores = {'a': [1.0, 0.5, 0.5, 0.8, 0.5, 0.5], 'b': [0.5, 0.5, 0.5, 0.8, 0.5, 1.0]}
  truths = {task: {space.config_hash(c): ground_truth.Truth(c, 0.5, scores[task][i], 0.0, 0.0,
                                                            5, 1.0)
                   for i, c in enumerate(pool)} for task in scores}
  with ground_truth.GroundTruthStore(str(tmp_path)) as store:
    source = store.path
  kb_dir = str(tmp_path / 'kb')
  manifest = knowledge.build(kb_dir, evaluator, task_features, knowledge.KnowledgeSettings(
      tasks=['a', 'b'], pretraining_iterations=2, top_configs=3, portfolio_size=2,
      architectures=False), truths, source)
  assert manifest['ground_truth'] == source
  shipped = os.listdir(os.path.join(kb_dir, 'pretrain', 'checkpoints'))  # the newest only
  assert sorted(shipped) == ['checkpoint', 'ckpt-2.data-00000-of-00001', 'ckpt-2.index']
  with open(os.path.join(kb_dir, 'best_configs.json')) as f:
    best = json.load(f)
  assert best['by'] == 'seed mean of the ground truth'
  assert [r['config'] for r in best['configs']['a'][:2]] == [space.validate(pool[0]),
                                                             space.validate(pool[3])]
  assert [r['draws'] for r in best['configs']['b']] == [5, 5, 5]
  with open(os.path.join(kb_dir, 'portfolio.json')) as f:
    first, second = map(space.config_hash, json.load(f)['configs'])
  assert first == space.config_hash(pool[3])
  assert second in {space.config_hash(pool[0]), space.config_hash(pool[5])}
  with pytest.raises(knowledge.KnowledgeError, match='holds a finished knowledge base'):
    knowledge.build(kb_dir, evaluator, task_features, knowledge.KnowledgeSettings(
        tasks=['a', 'b']))
  run = str(tmp_path / 'c')
  runner.search(run, runner.Budget(2), evaluator, task_features=task_features, tasks=['c'])
  knowledge.add(kb_dir, evaluator, task_features, run, 'c')
  kb = knowledge.load(kb_dir, evaluator)
  assert kb.tasks == ['a', 'b', 'c'] and kb.manifest['added'] == ['c']
  assert [t for t, _ in kb.nearest(task_features, 'c', count=1)] == ['a']
  network = value_network.load(os.path.join(kb_dir, 'value_network'))
  assert network.info['num_trials'] == 2 * 8 + 2 * 8
  with pytest.raises(knowledge.KnowledgeError, match="knows 'c' already"):
    knowledge.add(kb_dir, evaluator, task_features, run, 'c')
