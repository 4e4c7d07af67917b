"""The differentiable search (children/supernet.py, controllers/differentiable.py): the
relaxation finds the module and the depth a task needs, the derived configs are the space's,
a warm start reads its source (the nearest task's or the meta-architecture), the search runs,
resumes and records its settings like every other controller, and the benchmark builds its
sources from the other folds and counts the supernet's cost."""
import csv
import json
import os

import gin
import numpy as np
import pytest
import tensorflow as tf

from mnms_tf.children import space as search_space
from mnms_tf.children import supernet
from mnms_tf.children import trainer as trainer_lib
from mnms_tf import configs
from mnms_tf.controllers import differentiable
from mnms_tf.controllers import factory as controller_lib
from mnms_tf.data import features
from mnms_tf.data.embeddings import module_builder
from mnms_tf import errors
from mnms_tf.evaluation import evaluators
from mnms_tf.experiments import benchmark as benchmark_lib
from mnms_tf.experiments import suite
from mnms_tf import paths
from mnms_tf.search import run_dir
from mnms_tf.search import runner
from mnms_tf.search import store as store_lib

HYPERPARAMETERS = {'learning_rate': 0.3, 'iterations': 100, 'regularization': 0.0}
# 'en-dim50' tells a, b, c and d apart; 'en-dim128' knows none of them (one OOV bucket), so
# that not even fine-tuning it helps. It comes first: untrained weights would pick it.
CHOICES = dict(search_space.DEFAULT_CHOICES, embedding=('en-dim128', 'en-dim50'))


def _write_task(path, rows):
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['text', 'label'])
    writer.writerows(rows)


@pytest.fixture
def xor_task(tmp_path):
  """Binds a task whose label is the XOR of two words (no linear classifier of the sentence
  vectors solves it: depth 0 cannot), a copy of it (xor_b), one whose label is the first
  word, and two modules; returns the space over them."""
  module_builder.save_module(
      str(tmp_path / 'informative'), ['a', 'b', 'c', 'd', 'the'],
      np.array([[1, 0, 0, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, -1, 0, 0], [0, 0, .1, 0]],
               np.float32), 1, {'name': 'informative'})
  module_builder.save_module(str(tmp_path / 'blind'), ['the', 'x'],
                             np.array([[0, 0, .1, 0], [1, 1, 1, 1]], np.float32), 1,
                             {'name': 'blind'})
  rng = np.random.default_rng(0)
  words = rng.integers(2, size=(400, 2))
  _write_task(tmp_path / 'xor.csv', [(f'{"ab"[a]} the {"cd"[b]}', 'same' if a == b else
                                      'different') for a, b in words])
  _write_task(tmp_path / 'first_word.csv',  # no hidden layer needed
              [(f'{"ab"[a]} the {"cd"[b]}', 'ab'[a]) for a, b in words[:200]])
  files = {'xor': 'xor.csv', 'xor_b': 'xor.csv', 'first_word': 'first_word.csv'}
  tasks = '\n'.join(f"""
      {name}/FileTask.name = '{name}'
      {name}/FileTask.path = '{tmp_path / file}'
      {name}/FileTask.text_column = 'text'
      {name}/FileTask.label_column = 'label'""" for name, file in files.items())
  gin.parse_config(f"""
      import mnms_tf.children.space
      import mnms_tf.data.embeddings.registry
      import mnms_tf.data.tasks.registry
      module_handles.handles = {{'en-dim50': '{tmp_path}/informative',
                                 'en-dim128': '{tmp_path}/blind'}}
      {tasks}
      user_tasks.tasks = [{', '.join(f'@{name}/FileTask()' for name in files)}]
      SearchSpace.choices = {json.dumps(CHOICES).replace('false', 'False').replace('true', 'True')}
  """)
  return search_space.SearchSpace()


def _search(space, steps=300, **kwargs):
  return supernet.search_architecture(
      trainer_lib.ChildTrainer(space=space), space, ['xor'], HYPERPARAMETERS,
      supernet.SupernetSettings(steps=steps, log_every=0), **kwargs)


def test_the_supernet_finds_the_module_and_the_depth_the_task_needs(xor_task):
  space = xor_task
  found = _search(space)
  probabilities = found.probabilities
  module, _ = supernet.pairs(space)[int(np.argmax(probabilities['pairs']))]
  assert module == 'en-dim50'
  assert sum(p for (m, _), p in zip(supernet.pairs(space), probabilities['pairs'])
             if m == 'en-dim50') > 0.9
  assert probabilities['nlayers'][0] < 0.025  # no hidden layer: the one that cannot
  assert found.validation_accuracy[0] > 0.95
  derived = supernet.derived_configs(space, found.alphas, HYPERPARAMETERS)
  assert derived[0] == space.validate(dict(
      HYPERPARAMETERS, embedding='en-dim50',
      trainable=supernet.pairs(space)[int(np.argmax(probabilities['pairs']))][1],
      nlayers=space.choices['nlayers'][int(np.argmax(probabilities['nlayers']))],
      nnodes=space.choices['nnodes'][int(np.argmax(probabilities['nnodes']))]))


def test_a_diverging_supernet_stops_with_the_architecture_weights_it_had(xor_task):
  space = xor_task
  found = supernet.search_architecture(
      trainer_lib.ChildTrainer(space=space), space, ['xor'],
      dict(HYPERPARAMETERS, learning_rate=1e30), supernet.SupernetSettings(steps=20))
  assert found.steps < 20
  assert all(np.isfinite(v).all() for v in found.alphas.values())
  assert len(supernet.derived_configs(space, found.alphas, HYPERPARAMETERS)) == 4 * 13


def test_derived_configs_are_the_spaces_children_ranked_by_probability():
  space = search_space.SearchSpace()
  alphas = supernet.initial_alphas(space)
  alphas['pairs'][3] = 2.0  # en-dim128 fine-tuned
  alphas['nlayers'] = [0.0, 0.0, 2.0, 0.0]
  alphas['nnodes'] = [0.0, 0.5, 0.0, 0.0]
  derived = supernet.derived_configs(space, alphas, HYPERPARAMETERS)
  assert all(space.validate(c) == c for c in derived)
  # 8 (module, fine-tuned) pairs x (depth 0, or 3 depths x 4 widths), each child once
  assert len({space.config_hash(c) for c in derived}) == len(derived) == 8 * (1 + 3 * 4)
  first = dict(HYPERPARAMETERS, embedding='en-dim128', trainable=True, nlayers=2)
  # By hand: p(pair) 0.514, p(depth 2) 0.711, p(depth 0) 0.096, p(width 50) 0.355, other
  # widths 0.215 each: 2 layers of 50, then of 10, 100 and 200 (0.711 x 0.215 > 0.096),
  # then no hidden layer (0.514 x 0.096 = 0.049 > 0.070 x 0.711 x 0.355 = 0.018 for the
  # next pair's first).
  assert derived[:5] == [dict(first, nnodes=n) for n in (50, 10, 100, 200)] + [
      dict(first, nlayers=0, nnodes=10)]


def test_a_warm_start_reads_the_source_search(xor_task, tmp_path):
  space = xor_task
  source = _search(space, steps=100, checkpoint_weights=supernet.weights_prefix(tmp_path / 'a'))
  supernet.save_architecture(tmp_path / 'a', space, source)
  saved = supernet.load_architecture(tmp_path / 'a', space)
  assert saved['alphas'] == source.alphas
  # No step: the architecture weights and hidden layers are the source's, not a new seed's.
  warm = _search(space, steps=0, seed=7, alphas=saved['alphas'],
                 restore_weights=supernet.weights_prefix(tmp_path / 'a'),
                 checkpoint_weights=supernet.weights_prefix(tmp_path / 'b'))
  assert warm.probabilities == source.probabilities
  for name, _ in tf.train.list_variables(supernet.weights_prefix(tmp_path / 'a')):
    if name.startswith(('kernels', 'biases')):
      np.testing.assert_array_equal(
          tf.train.load_variable(supernet.weights_prefix(tmp_path / 'a'), name),
          tf.train.load_variable(supernet.weights_prefix(tmp_path / 'b'), name))
  cold = _search(space, steps=0, seed=7)
  assert np.allclose(cold.probabilities['pairs'], 1 / len(supernet.pairs(space)))
  other = search_space.SearchSpace(choices=dict(CHOICES, learning_rate=(0.1, 0.3)))
  with pytest.raises(supernet.SupernetError, match='another search space'):
    supernet.load_architecture(tmp_path / 'a', other)
  with pytest.raises(supernet.SupernetError, match='architecture.json is missing'):
    supernet.load_architecture(tmp_path, space)


def _darts_search(root, iterations, task='xor', steps=100, task_features=None,
                  warm_start=None, **settings):
  factory = controller_lib.ControllerFactory(kind='darts', peer=differentiable.settings(
      supernet=supernet.SupernetSettings(steps=steps, log_every=0),
      hyperparameters=HYPERPARAMETERS, **settings))
  with evaluators.Children(paths.default_data_dir()) as in_process:
    return runner.search(str(root), runner.Budget(iterations=iterations), in_process,
                         create_controller=factory, tasks=[task], children_per_iteration=2,
                         num_initial_configs=2, seed=0, task_features=task_features,
                         **(warm_start or {}))


def _trials(root):
  with store_lib.TrialStore(str(root), read_only=True) as store:
    return [(r['config'], r['seed'], r['val_accuracy']) for r in store.trials()]


def test_a_differentiable_search_proposes_its_derived_configs_and_resumes(xor_task, tmp_path):
  space = xor_task
  _darts_search(tmp_path / 'whole', 2)
  _darts_search(tmp_path / 'resumed', 1)
  _darts_search(tmp_path / 'resumed', 2)
  whole = _trials(tmp_path / 'whole')
  assert whole == _trials(tmp_path / 'resumed')
  found = _search(space, steps=100, seed=0)
  assert [c for c, *_ in whole] == supernet.derived_configs(space, found.alphas,
                                                            HYPERPARAMETERS)[:4]
  with open(tmp_path / 'whole' / 'run.json') as f:
    controller = json.load(f)['controller']
  assert controller['kind'] == 'darts'
  assert controller['peer']['supernet']['steps'] == 100
  assert controller['peer']['hyperparameters'] == HYPERPARAMETERS
  for run in ('whole', 'resumed'):  # the supernet's cost, beside the children's
    with store_lib.TrialStore(str(tmp_path / run), read_only=True) as store:
      assert list(store.controller_seconds()) == ['xor']
      assert store.controller_seconds()['xor'] > 0


def test_a_differentiable_search_refuses_what_it_cannot_search(xor_task, tmp_path):
  with pytest.raises(errors.ControllerError, match='must give exactly'):
    controller_lib.ControllerFactory(kind='darts', peer=differentiable.settings(
        hyperparameters={'learning_rate': 0.1}))(['xor'], xor_task, 0, trainer=object())
  with pytest.raises(errors.ControllerError, match='needs real children'):
    controller_lib.ControllerFactory(kind='darts')(['xor'], xor_task, 0)
  with pytest.raises(supernet.SupernetError, match='no architecture.json in'):
    _darts_search(tmp_path / 'run', 1, init_architecture=str(tmp_path))
  assert not (tmp_path / 'run').exists()


def test_a_warm_started_search_starts_from_the_nearest_tasks_supernet(xor_task, tmp_path):
  space = xor_task
  hyperparameters = dict(HYPERPARAMETERS, learning_rate=0.1)
  supernet.build_architectures(str(tmp_path / 'architectures'),
                               trainer_lib.ChildTrainer(space=space), space, ['xor', 'first_word'],
                               {'xor': HYPERPARAMETERS, 'first_word': hyperparameters},
                               supernet.SupernetSettings(steps=60, log_every=0))
  assert supernet.searched_tasks(str(tmp_path / 'architectures')) == ['first_word', 'xor']
  # Task features given (as a knowledge base's are): xor_b is nearest to xor.
  known = {'xor': [1.0, 0.0], 'first_word': [0.0, 1.0], 'xor_b': [0.9, 0.1]}
  task_features = features.TaskFeatures.for_space(paths.default_data_dir(), space, known={
      t: {'embedding': e, 'representation': e} for t, e in known.items()})
  # Another search's trials give the learning rate, length and l2: those of its best config
  # for the nearest task (here its only one).
  _darts_search(tmp_path / 'past', 1)
  with store_lib.TrialStore(str(tmp_path / 'past'), read_only=True) as store:
    best = store.best('xor')['config']
  for init in ('nearest', 'meta'):
    # No supernet step: the search proposes what its source's weights derive.
    _darts_search(tmp_path / init, 1, task='xor_b', steps=0, task_features=task_features,
                  warm_start=dict(architecture_init=init,
                                  architectures=str(tmp_path / 'architectures'),
                                  hyperparameters_from=str(tmp_path / 'past')))
    source = str(tmp_path / 'architectures' / ('xor' if init == 'nearest' else 'meta'))
    with open(tmp_path / init / 'run.json') as f:
      assert json.load(f)['architecture_sources']['xor_b']['init'] == source
    unrelaxed = supernet.hyperparameters_of(best)
    assert [c for c, *_ in _trials(tmp_path / init)] == supernet.derived_configs(
        space, supernet.load_architecture(source, space)['alphas'], unrelaxed)[:2]
  summary = _darts_search(tmp_path / 'nearest', 1, task='xor_b', steps=0,  # a resume
                          task_features=task_features,
                          warm_start=dict(architecture_init='nearest',
                                          architectures=str(tmp_path / 'architectures'),
                                          hyperparameters_from=str(tmp_path / 'past')))
  assert summary['children'] == 2
  with pytest.raises(runner.RunDirError, match="bind ControllerFactory.kind = 'darts'"):
    with evaluators.Children(paths.default_data_dir()) as in_process:
      runner.search(str(tmp_path / 'tpe'), runner.Budget(iterations=1), in_process,
                    create_controller=controller_lib.ControllerFactory(kind='tpe'),
                    tasks=['xor_b'], architecture_init='meta',
                    architectures=str(tmp_path / 'architectures'))


@pytest.mark.slow  # a benchmark of real (tiny) children: pool, 2 folds, 6 searches
def test_the_benchmark_warm_starts_from_the_other_folds_supernets_and_counts_their_cost(
    xor_task, tmp_path):
  gin.bind_parameter('SearchSpace.choices', dict(CHOICES, learning_rate=(0.3,),
                                                 iterations=(100,)))
  gin.bind_parameter('SupernetSettings.steps', 30)
  space = search_space.SearchSpace()
  bench = benchmark_lib.Benchmark(folds=[['xor'], ['first_word']],
                                  methods=['random', 'darts', 'darts_warm'], seeds=1,
                                  held_out_iterations=1, pretraining_iterations=2, pool_size=4,
                                  truth_seeds=2, bootstrap_resamples=50)
  root = str(tmp_path / 'benchmark')
  with evaluators.Children(paths.default_data_dir(), space=space) as evaluator:
    benchmark_lib.run(root, bench, evaluator, features.TaskFeatures.for_space(
        paths.default_data_dir(), space))
  for index, (held_out, other) in enumerate([('xor', 'first_word'), ('first_word', 'xor')]):
    fold = benchmark_lib.fold_dir(root, index)
    architectures = os.path.join(fold, suite.ARCHITECTURES)
    assert supernet.searched_tasks(architectures) == [other]  # never the held-out task
    warm = run_dir.read_info(suite.held_out_dir(fold, held_out, 'darts_warm', 0))
    assert warm['architecture_sources'][held_out]['init'] == os.path.join(architectures, other)
    assert warm['controller']['peer']['steps_share'] == 0.4  # of the cold one's 30 steps
    cold = run_dir.read_info(suite.held_out_dir(fold, held_out, 'darts', 0))
    assert cold['architecture_sources'][held_out]['init'] is None
  searches = {(s.task, s.method): s for s in benchmark_lib.finished_searches(root, bench)}
  assert len(searches) == 6
  for (task, method), found in searches.items():
    run = suite.held_out_dir(benchmark_lib.fold_dir(root, ['xor', 'first_word'].index(task)),
                             task, method, 0)
    with store_lib.TrialStore(run, read_only=True) as store:
      children = np.array([r['seconds'] for r in store.trials()])
      supernet_seconds = store.controller_seconds().get(task, 0.0)
    assert (supernet_seconds > 0) == method.startswith('darts')
    assert found.seconds[0] == pytest.approx(children[0] + supernet_seconds)
    np.testing.assert_allclose(found.seconds[1:], children[1:])
  _, scored = benchmark_lib.scores(root, bench, space)
  assert len(scored) == 6


def test_the_shipped_gin_file_makes_a_differentiable_search():
  configs.parse(['search/darts.gin'])
  factory = controller_lib.ControllerFactory()
  assert factory.kind == 'darts'
  assert factory.peer['hyperparameters'] == {'learning_rate': 0.1, 'iterations': 2000,
                                             'regularization': 0.001}
  assert factory.peer['supernet']['steps'] == 300 and factory.peer['init_architecture'] is None
  space = search_space.SearchSpace()
  assert all(space.validate(c) == c for c in supernet.derived_configs(
      space, supernet.initial_alphas(space), factory.peer['hyperparameters']))
