"""The real offline data, built by the real binary into its own directory,
$MNMS_DATA_DIR/tests (cached across runs), with the e5 modules distilled from the top
10,000 words of each language instead of 30,000: the distillation is most of a build from
nothing (docs/data.md), and a third of it keeps the test tier within its time. Everything
else (sources, checksums, GloVe, the tasks) is the default build.
"""
import json
import os

import gin
import numpy as np
import pytest
import tensorflow as tf

import conftest
from mnms_tf.children import baselines
from mnms_tf.children import trainer as child
from mnms_tf.children import result as result_lib
from mnms_tf.children import supernet
from mnms_tf import cli
from mnms_tf import paths
from mnms_tf.data import features
from mnms_tf.data.embeddings import layer as layer_lib
from mnms_tf.data.tasks import registry
from mnms_tf.evaluation import evaluators
from mnms_tf.experiments import searches
from mnms_tf.experiments import suite
from mnms_tf.search import run_dir
from mnms_tf.search import store as store_lib
from mnms_tf.transfer import knowledge
from mnms_tf.transfer import value_network

pytestmark = pytest.mark.integration


TEST_VOCABULARY = 10000


@pytest.fixture(scope='module')
def data_dir():
  return os.path.join(paths.default_data_dir(), 'tests')


@pytest.fixture(scope='module')
def summary(data_dir):
  result = conftest.run_binary(  # in this process
      'mnms_tf.bin.build_data', '--json', f'--data_dir={data_dir}',
      f'--gin_bindings=build_offline_module.distill_vocab_size = {TEST_VOCABULARY}')
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_task_sizes_and_balance(summary):
  tasks = summary['tasks']
  totals = {name: sum(t['splits'].values()) for name, t in tasks.items()}
  assert 15000 <= totals['spanish_langid'] <= 20000
  assert totals['rt_snippets'] >= 10000
  assert totals['polarity_reviews'] == 1500
  assert totals['es_tweets'] >= 750
  for name, task in tasks.items():
    assert task['num_classes'] == 2
    for split, counts in task['class_counts'].items():
      assert sum(counts) == task['splits'][split] and min(counts) > 0, (name, split, counts)
  polarity = np.sum(list(tasks['polarity_reviews']['class_counts'].values()), axis=0)
  assert polarity.tolist() == [750, 750]
  langid = np.sum(list(tasks['spanish_langid']['class_counts'].values()), axis=0)
  assert langid[1] == 5000  # every Spanish list entry is a distinct positive token


def test_modules_cover_and_separate_the_tasks(summary):
  modules = summary['modules']
  assert {m: modules[m]['dim'] for m in modules} == {
      'en-dim50': 50, 'en-dim128': 128, 'es-dim50': 50, 'es-dim128': 128}
  assert modules['en-dim50']['vocab_size'] >= 399000
  assert modules['es-dim50']['vocab_size'] < 2 * TEST_VOCABULARY  # not the default 30,000
  assert modules['en-dim50']['oov_rate']['rt_snippets'] < 0.05
  assert modules['en-dim50']['probe_accuracy']['rt_snippets'] >= 0.70
  # With 10,000 words, 71% of the language-id words are out of vocabulary (30,000 words:
  # docs/data.md); still the Spanish vectors tell the languages apart, the English less so.
  langid_probe = {m: modules[m]['probe_accuracy']['spanish_langid'] for m in modules}
  assert langid_probe['es-dim128'] >= 0.80
  assert langid_probe['es-dim128'] > langid_probe['en-dim128'] + 0.05
  # English vectors suit the English task better than Spanish ones, and vice versa.
  assert modules['en-dim128']['oov_rate']['rt_snippets'] < modules['es-dim128']['oov_rate']['rt_snippets']
  assert modules['es-dim128']['oov_rate']['es_tweets'] < modules['en-dim128']['oov_rate']['es_tweets']


def test_modules_embed_real_task_text(summary, data_dir):
  del summary  # built
  for module_name, task_name in (('en-dim50', 'rt_snippets'), ('es-dim128', 'es_tweets')):
    texts = registry.load_split(task_name, 'validation', data_dir).texts[:200]
    module = layer_lib.HubTextEmbedding(module_name, data_dir=data_dir)
    vectors = module(tf.constant(list(texts))).numpy()
    assert np.isfinite(vectors).all()
    assert np.mean(np.linalg.norm(vectors, axis=1) > 0) > 0.99
  spanish = layer_lib.HubTextEmbedding('es-dim128', data_dir=data_dir)
  words = spanish(tf.constant(['bueno', 'buena', 'malo', 'computadora'])).numpy()
  words /= np.linalg.norm(words, axis=1, keepdims=True)
  assert words[0] @ words[1] > words[0] @ words[3]


def test_children_reach_paper_level_accuracy(summary, data_dir):
  """A hand-tuned child on the SST stand-in and a Spanish-embedding child on language id."""
  del summary  # built
  trainer = child.ChildTrainer(data_dir)
  sentiment = trainer.train('rt_snippets', baselines.hand_tuned_config('en'), seed=0)
  assert sentiment.status == result_lib.OK and sentiment.val_accuracy >= 0.74
  langid_config = {'embedding': 'es-dim50', 'trainable': False, 'nlayers': 3, 'nnodes': 200,
                   'learning_rate': 0.3, 'iterations': 2000, 'regularization': 0.0}
  langid = trainer.train('spanish_langid', langid_config, seed=0)
  assert langid.status == result_lib.OK and langid.val_accuracy >= 0.95
  english = trainer.train('spanish_langid', dict(langid_config, embedding='en-dim128'), seed=0)
  assert english.val_accuracy < langid.val_accuracy - 0.1  # the embedding choice matters


def test_task2vec_ranks_language_id_tasks_nearest_to_each_other(summary, data_dir):
  """On the real suite (built here: ~15 s once, then cached), every language-id task's
  nearest task is a language-id task. (Sentiment tasks: docs/data.md.)"""
  del summary  # the modules and the paper's four tasks are built
  from mnms_tf.data import features as task_features  # pylint: disable=g-import-not-at-top
  from mnms_tf.data.embeddings import registry as module_registry  # pylint: disable=g-import-not-at-top
  tasks = list(registry.SUITE_TASKS)
  similarities = task_features.TaskFeatures(
      data_dir, list(module_registry.OFFLINE_HANDLES)).similarity_matrix(tasks)
  np.fill_diagonal(similarities, -np.inf)
  nearest = {task: tasks[int(np.argmax(row))] for task, row in zip(tasks, similarities)}
  for task in tasks:
    if task.endswith('_langid'):
      assert nearest[task].endswith('_langid'), nearest


def test_the_shipped_knowledge_base_loads_suggests_and_transfers(summary, data_dir, tmp_path):
  """knowledge/suite (committed) against the real modules: checked against today's search
  space and child trainer, its value network's suggestions for a new task file are configs
  of the space, and a warm-started search transfers from it."""
  del summary  # the modules are built
  rng = np.random.default_rng(0)
  path = tmp_path / 'film_reviews.csv'
  words = ['the', 'film', 'was', 'a', 'story', 'and', 'its', 'actors']
  rows = ['text,label'] + [
      f'{" ".join(rng.choice(words, size=5))} {"wonderful" if i % 2 else "boring"},'
      f'{"liked" if i % 2 else "disliked"}' for i in range(300)]
  path.write_text('\n'.join(rows) + '\n')
  text, task = registry.file_task_gin(str(path), 'text', 'label')
  gin.parse_config(text)
  with evaluators.Children(data_dir) as evaluator:
    kb = knowledge.load(cli.SHIPPED_KNOWLEDGE, evaluator)
    assert set(registry.SUITE_TASKS) <= set(kb.tasks)
    assert supernet.searched_tasks(os.path.join(kb.directory, knowledge.ARCHITECTURES)) == (
        sorted(registry.SUITE_TASKS))  # and meta/: what darts_warm and darts_meta read
    task_features = features.TaskFeatures.for_space(data_dir, evaluator.space, kb.features)
    network = value_network.load(os.path.join(kb.directory, knowledge.VALUE_NETWORK))
    suggestions = network.suggest(task_features.representation(task), top_k=3)
    assert len(suggestions) == 3
    for config, predicted in suggestions:  # (a prediction is not clipped to [0, 1])
      assert evaluator.space.validate(config) == config and np.isfinite(predicted)
    nearest = kb.nearest(task_features, task)[0][0]
    searches.SearchJob(str(tmp_path / 'run'), 1, dict(
        tasks=[task], **suite.search_arguments(kb.directory, 'warm_configs'))).run(
            evaluator, task_features)
  info = run_dir.read_info(str(tmp_path / 'run'))
  assert info['init_from'] == os.path.join(kb.directory, knowledge.PRETRAIN)
  assert kb.tasks[0] in info['controller_tasks'] and task in info['controller_tasks']
  # it first evaluated the nearest known task's best configs from the base's pre-training
  with store_lib.TrialStore(os.path.join(kb.directory, knowledge.PRETRAIN),
                            read_only=True) as store:
    known = {r['config_hash'] for r in store.trials(task=nearest)}
  first = info['initial_config_list'][task]
  assert first and {evaluator.space.config_hash(c) for c in first} <= known
