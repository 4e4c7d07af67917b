"""Warm-started transfer on synthetic tasks: a new task's controller embedding starts from
the most similar pre-training task's learned one, or a similarity-weighted mix of them."""
import json

import gin
import numpy as np
import pytest

from mnms_tf.controllers import factory as controller_lib
from mnms_tf.data import features
from mnms_tf.search import runner
from mnms_tf.children import space as search_space
from mnms_tf.search import store as store_lib
from mnms_tf.evaluation import synthetic
from mnms_tf.transfer import warm_start

TARGETS = synthetic.example_targets(search_space.SearchSpace().sizes)


def _search(root_dir, tasks, iterations, **kwargs):
  return runner.search(str(root_dir), runner.Budget(iterations=iterations),
                       synthetic.SyntheticChildren(TARGETS),
                       task_features=synthetic.SyntheticTaskFeatures(TARGETS), tasks=tasks,
                       create_controller=controller_lib.ControllerFactory(),
                       children_per_iteration=8, seed=1, **kwargs)


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
  """A search on tasks a and b, long enough that their embeddings differ from their start."""
  root = tmp_path_factory.mktemp('pretrained')
  summary = _search(root, ['a', 'b'], 30)
  return root, summary['controller']


def _embeddings(agent):
  return {name: agent.networks['actor'].task_embeddings.numpy()[agent.task_index(name)]
          for name in agent.task_names}, agent.sampler.task_embeddings.numpy()


def test_nearest_starts_a_new_task_from_its_most_similar_tasks_embedding(pretrained, tmp_path):
  source, agent = pretrained
  before, before_sampler = _embeddings(agent)
  summary = _search(tmp_path / 'c', ['c'], 0, init_from=str(source),
                    task_embedding_init='nearest')
  after, after_sampler = _embeddings(summary['controller'])
  np.testing.assert_array_equal(after['c'], before['a'])  # c is a but for two choices
  np.testing.assert_array_equal(after_sampler[2], before_sampler[0])
  info = json.loads((tmp_path / 'c' / 'run.json').read_text())
  assert info['task_embedding_init'] == 'nearest'
  assert info['task_similarities'] == {'c': {'a': pytest.approx(5 / 7), 'b': 0.0}}


def test_similarity_weighted_mixes_the_embeddings_by_a_softmax(pretrained, tmp_path):
  source, agent = pretrained
  before, _ = _embeddings(agent)
  summary = _search(tmp_path / 'c', ['c'], 0, init_from=str(source),
                    task_embedding_init='similarity_weighted', task_embedding_temperature=0.5)
  after, _ = _embeddings(summary['controller'])
  weight_a = np.exp(5 / 7 / 0.5) / (np.exp(5 / 7 / 0.5) + 1.0)
  np.testing.assert_allclose(after['c'], weight_a * before['a'] + (1 - weight_a) * before['b'],
                             rtol=1e-5)


def test_random_is_the_papers_fresh_embedding_and_resumes_keep_the_choice(pretrained, tmp_path):
  source, agent = pretrained
  before, _ = _embeddings(agent)
  summary = _search(tmp_path / 'c', ['c'], 2, init_from=str(source))
  after, _ = _embeddings(summary['controller'])
  assert not np.allclose(after['c'], before['a']) and not np.allclose(after['c'], before['b'])
  assert json.loads((tmp_path / 'c' / 'run.json').read_text())['task_similarities'] is None
  with pytest.raises(runner.RunDirError, match="task_embedding_init: stored 'random', now "
                                               "'nearest'"):
    _search(tmp_path / 'c', ['c'], 3, task_embedding_init='nearest')


def test_the_nearest_tasks_best_configs_are_evaluated_first(pretrained, tmp_path):
  source, _ = pretrained
  with store_lib.TrialStore(str(source), read_only=True) as store:
    rows = sorted(store.trials(task='a', status='ok'),
                  key=lambda r: (-r['val_accuracy'], r['iteration'], r['slot']))
  best = []
  for row in rows:
    if row['config_hash'] not in [r['config_hash'] for r in best]:
      best.append(row)
  summary = _search(tmp_path / 'c', ['c'], 2, init_from=str(source),
                    initial_configs='nearest_best', num_initial_configs=3)
  with store_lib.TrialStore(str(tmp_path / 'c'), read_only=True) as store:
    first = [r['config'] for r in store.trials() if r['iteration'] == 0]
    later = [r['config'] for r in store.trials() if r['iteration'] == 1]
  assert first[:3] == [r['config'] for r in best[:3]] and len(first) == len(later) == 8
  assert json.loads((tmp_path / 'c' / 'run.json').read_text())['initial_config_list'] == {
      'c': [r['config'] for r in best[:3]]}
  assert summary['iterations'] == 2


def test_bad_warm_start_settings_are_one_line_errors_and_write_nothing(tmp_path):
  for settings, message in (({'task_embedding_init': 'closest'}, 'must be one of'),
                            ({'initial_configs': 'best'}, 'must be one of'),
                            ({'num_initial_configs': 9}, 'between 1 and children_per'),
                            ({'task_embedding_init': 'nearest'}, 'give init_from'),
                            ({'initial_configs': 'nearest_best'}, 'give init_from')):
    with pytest.raises(runner.RunDirError, match=message):
      _search(tmp_path / 'run', ['a'], 1, **settings)
  assert not (tmp_path / 'run' / 'run.json').exists()


@pytest.mark.usefixtures('tiny_task')
def test_real_tasks_are_compared_by_task2vec_over_the_spaces_modules(tmp_path):
  gin.parse_config("""
      import mnms_tf.children.space
      SearchSpace.choices = {'embedding': ('en-dim50', 'es-dim50'), 'trainable': (False,),
                             'nlayers': (0,), 'nnodes': (10,), 'learning_rate': (0.3,),
                             'iterations': (100,), 'regularization': (0.0,)}""")
  task_features = features.TaskFeatures.for_space(str(tmp_path), search_space.SearchSpace())
  assert task_features.modules == ['en-dim50', 'es-dim50']
  assert task_features.similarity('tiny', 'tiny') == pytest.approx(1.0)
  assert task_features.similarities(['tiny'], ['tiny']) == {'tiny': {'tiny': pytest.approx(1.0)}}


def test_embedding_weights_pick_the_nearest_or_a_softmax_of_similarities():
  info = {'task_embedding_init': 'nearest', 'task_embedding_temperature': 0.5,
          'task_similarities': {'x': {'a': 0.2, 'b': 0.7}, 'y': {'a': 0.9, 'b': 0.1}}}
  np.testing.assert_array_equal(warm_start.embedding_weights(info, ['x', 'y'], ['a', 'b']),
                                [[0, 1], [1, 0]])
  info['task_embedding_init'] = 'similarity_weighted'
  weights = warm_start.embedding_weights(info, ['x'], ['a', 'b'])
  # softmax([0.2, 0.7] / 0.5) = softmax([0.4, 1.4]): e^-1 / (1 + e^-1) on a
  np.testing.assert_allclose(weights, [[np.exp(-1) / (1 + np.exp(-1)), 1 / (1 + np.exp(-1))]])
  info['task_embedding_init'] = 'random'
  assert warm_start.embedding_weights(info, ['x'], ['a', 'b']) is None


def test_a_warm_start_that_compares_tasks_needs_a_task_features_service(pretrained, tmp_path):
  source, _ = pretrained
  with pytest.raises(runner.RunDirError, match='task-features service'):
    runner.search(str(tmp_path / 'c'), runner.Budget(iterations=1),
                  synthetic.SyntheticChildren(TARGETS), tasks=['c'], init_from=str(source),
                  task_embedding_init='nearest')
  assert not (tmp_path / 'c' / 'run.json').exists()
