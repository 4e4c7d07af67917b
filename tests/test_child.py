"""Children on a tiny task and module made here: learning, failures, reuse, the binary."""
import json

import gin
import numpy as np
import pytest

import conftest
from mnms_tf.children import trainer as child
from mnms_tf.children import result as result_lib
from mnms_tf.children import space as search_space
from mnms_tf.data.embeddings import module_builder

CONFIG = {'embedding': 'en-dim50', 'trainable': False, 'nlayers': 1, 'nnodes': 10,
          'learning_rate': 0.3, 'iterations': 100, 'regularization': 0.0}


def test_fast_child_learns_and_fills_its_record(tiny_task):
  result = child.ChildTrainer().train('tiny', CONFIG, seed=0)
  assert result.status == result_lib.OK, result.message
  assert result.val_accuracy >= 0.9 and result.test_accuracy >= 0.9
  assert result.reward == pytest.approx(result.val_accuracy ** 3)
  assert result.config_hash == search_space.config_hash(CONFIG)
  assert result.num_params == (4 * 10 + 10) + (10 * 2 + 2) + 9 * 4  # MLP + 6 words, 3 OOV rows
  assert result.examples_per_second > 0 and result.train_seconds > 0
  assert json.loads(result.to_json())['config'] == CONFIG


def test_fine_tuning_is_reset_between_children_and_leaves_the_module(tiny_task, tiny_module):
  trainer = child.ChildTrainer()
  tuned = dict(CONFIG, trainable=True, regularization=0.01)
  first = trainer.train('tiny', tuned, seed=0)
  table = trainer._fine_tuned_tables['en-dim50'].table.numpy().copy()  # pylint: disable=protected-access
  assert first.status == result_lib.OK and not np.allclose(table[:6], tiny_module[1])
  trainer.train('tiny', dict(tuned, nlayers=2), seed=1)
  trainer.train('tiny', CONFIG, seed=2)
  again = trainer.train('tiny', tuned, seed=0)
  np.testing.assert_array_equal(
      trainer._fine_tuned_tables['en-dim50'].table.numpy(), table)  # pylint: disable=protected-access
  assert again.val_accuracy == first.val_accuracy
  np.testing.assert_array_equal(trainer._module('en-dim50').embeddings.numpy()[:6],  # pylint: disable=protected-access
                                tiny_module[1])


def test_a_fine_tuned_child_after_one_on_another_task_equals_a_fresh_one(tiny_task, tmp_path):
  """Only the rows a child's task can change are restored: those of every task must be."""
  other = tmp_path / 'other.csv'
  other.write_text('text,label\n' + ''.join(
      f'{"canción" if i % 2 else "movie"} {"good" if i % 3 else "the"},{i % 2}\n'
      for i in range(60)), encoding='utf-8')
  gin.parse_config(tiny_task.replace('user_tasks.tasks = [@tiny/FileTask()]', f"""
      other/FileTask.name = 'other'
      other/FileTask.path = '{other}'
      other/FileTask.text_column = 'text'
      other/FileTask.label_column = 'label'
      user_tasks.tasks = [@tiny/FileTask(), @other/FileTask()]"""))
  tuned = dict(CONFIG, trainable=True, learning_rate=0.3)
  trainer = child.ChildTrainer()
  trainer.train('other', tuned, seed=4)
  after_other = trainer.train('tiny', tuned, seed=0)
  last = trainer.train('other', dict(tuned, nlayers=0), seed=5)
  fresh_trainer = child.ChildTrainer()
  fresh = fresh_trainer.train('other', dict(tuned, nlayers=0), seed=5)
  assert after_other.val_accuracy == child.ChildTrainer().train('tiny', tuned, seed=0).val_accuracy
  assert last.val_accuracy == fresh.val_accuracy
  tables = [t._fine_tuned_tables['en-dim50'] for t in (trainer, fresh_trainer)]  # pylint: disable=protected-access
  np.testing.assert_array_equal(tables[0].table.numpy(), tables[1].table.numpy())
  np.testing.assert_array_equal(tables[0].accumulator.numpy(), tables[1].accumulator.numpy())


def test_architectures_and_tables_are_reused_across_children(tiny_task, tiny_module, tmp_path):
  wider = str(tmp_path / 'wider')  # es-dim50: a module of another width and vocabulary
  module_builder.save_module(wider, conftest.TINY_WORDS[:4], np.ones((4, 6), np.float32), 2,
                             {'name': 'wider'})
  with gin.unlock_config():
    gin.bind_parameter('module_handles.handles',
                       {'en-dim50': tiny_module[0], 'es-dim50': wider})
  trainer = child.ChildTrainer()
  for seed in range(3):
    for config in (CONFIG, dict(CONFIG, nnodes=50), dict(CONFIG, trainable=True),
                   dict(CONFIG, trainable=True, nlayers=0), dict(CONFIG, embedding='es-dim50'),
                   dict(CONFIG, trainable=True, embedding='es-dim50', nnodes=50)):
      assert trainer.train('tiny', config, seed=seed).status == result_lib.OK
  # One architecture, traced once, per (fine-tuned, depth): whatever the width or module.
  tables = trainer._fine_tuned_tables.values()  # pylint: disable=protected-access
  assert sorted(t.table.numpy().shape for t in tables) == [(4 + 2, 6), (6 + 3, 4)]  # + OOV rows
  architectures = trainer._architectures  # pylint: disable=protected-access
  # The tiny task's batch of 100 holds its whole vocabulary.
  assert sorted(architectures) == [(False, 1, False), (True, 0, True), (True, 1, True)]
  for architecture in architectures.values():
    assert architecture.train_loop.experimental_get_tracing_count() == 1
    assert architecture.logits.experimental_get_tracing_count() == 1


def test_training_the_whole_vocabulary_equals_training_each_batch_rows(tiny_task):
  """Batches of 2 texts miss most rows: those must keep their values despite L2."""
  config = dict(CONFIG, trainable=True, regularization=0.01, iterations=100)
  trained = {}
  for share in (0.0, None):  # always, never the whole vocabulary
    trainer = child.ChildTrainer(batch_size=2, whole_vocabulary_share=share)
    result = trainer.train('tiny', config, seed=0)
    assert result.status == result_lib.OK, result.message
    table = trainer._fine_tuned_tables['en-dim50']  # pylint: disable=protected-access
    trained[share] = result, table.table.numpy(), table.accumulator.numpy()
    assert list(trainer._architectures) == [(True, 1, share == 0.0)]  # pylint: disable=protected-access
  (whole, whole_table, whole_accumulator), (rows, rows_table, rows_accumulator) = (
      trained[0.0], trained[None])
  assert whole.val_accuracy == rows.val_accuracy and whole.test_accuracy == rows.test_accuracy
  np.testing.assert_allclose(whole_table, rows_table, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(whole_accumulator, rows_accumulator, rtol=1e-5)


def test_expected_batch_share_by_hand():
  # 4 texts; id 0 in 3 of them, ids 1 and 2 in one each.
  frequencies, texts = [3, 1, 1], 4
  assert child.expected_batch_share(frequencies, texts, 1) == pytest.approx((3 / 4 + 2 / 4) / 3)
  # A batch of 2 misses id 0 never, id 1 with P = C(3, 2) / C(4, 2) = 1/2.
  assert child.expected_batch_share(frequencies, texts, 2) == pytest.approx((1 + 0.5 + 0.5) / 3)
  assert child.expected_batch_share(frequencies, texts, 4) == pytest.approx(1.0)
  assert child.expected_batch_share(frequencies, texts, 100) == pytest.approx(1.0)


@pytest.mark.parametrize('trainable', [False, True])
def test_fast_and_keras_paths_agree(tiny_task, trainable):
  config = dict(CONFIG, trainable=trainable, iterations=500)
  fast = child.ChildTrainer().train('tiny', config, seed=3)
  keras_result = child.train_keras('tiny', config, seed=3)
  assert fast.status == keras_result.status == result_lib.OK
  assert fast.val_accuracy >= 0.9 and keras_result.val_accuracy >= 0.9
  assert keras_result.num_params == fast.num_params


def test_exploding_loss_is_a_failed_result(tiny_task):
  space = search_space.SearchSpace(dict(search_space.DEFAULT_CHOICES, learning_rate=(1e38,)))
  config = dict(CONFIG, learning_rate=1e38, nlayers=3, nnodes=200)
  for result in (child.ChildTrainer(space=space).train('tiny', config),
                 child.train_keras('tiny', config, space=space)):
    assert result.status == result_lib.FAILED and 'non-finite' in result.message
    assert result.reward == 0.0


def test_exceptions_are_failed_results(tiny_task, tmp_path):
  space = search_space.SearchSpace(dict(search_space.DEFAULT_CHOICES, embedding=('xx-dim4',)))
  result = child.ChildTrainer(space=space).train('tiny', dict(CONFIG, embedding='xx-dim4'))
  assert result.status == result_lib.FAILED and 'No embedding module at /nonexistent' in result.message
  gin.parse_config(f"tiny/FileTask.path = '{tmp_path / 'gone.csv'}'")
  result = child.ChildTrainer().train('tiny', CONFIG)
  assert result.status == result_lib.FAILED and 'no file at' in result.message


def test_invalid_config_is_an_error_not_a_result(tiny_task):
  with pytest.raises(search_space.InvalidConfigError, match='nnodes=64'):
    child.ChildTrainer().train('tiny', dict(CONFIG, nnodes=64))


def test_train_child_binary_prints_json_last(tiny_task, tmp_path):
  gin_file = tmp_path / 'tiny.gin'
  gin_file.write_text(tiny_task)
  args = ['--task=tiny', f'--gin_file={gin_file}']
  result = conftest.run_binary('mnms_tf.bin.train_child', *args,
                               f'--config_json={json.dumps(CONFIG)}')
  assert result.returncode == 0, result.stderr[-2000:]
  record = json.loads(result.stdout.strip().splitlines()[-1])
  assert record['status'] == 'ok' and record['val_accuracy'] >= 0.9
  bad = conftest.run_binary('mnms_tf.bin.train_child', *args, '--config_json={"nlayers": 1}')
  assert bad.returncode == 1 and 'missing' in bad.stderr and 'Traceback' not in bad.stderr


GROUP_SPACE = search_space.SearchSpace(dict(
    search_space.DEFAULT_CHOICES, iterations=(20, 50, 100), learning_rate=(0.1, 0.3, 1e38)))


def _members(trainable):
  """Children of one group: every width, rate, l2, length and seed differs."""
  return [(dict(CONFIG, trainable=trainable, nlayers=2, nnodes=10, iterations=50,
                learning_rate=0.3, regularization=0.01), 0),
          (dict(CONFIG, trainable=trainable, nlayers=2, nnodes=50, iterations=100,
                learning_rate=0.1, regularization=0.0), 1),
          (dict(CONFIG, trainable=trainable, nlayers=2, nnodes=10, iterations=20,
                learning_rate=0.3, regularization=0.001), 7)]


@pytest.mark.parametrize('trainable', [False, True])
def test_a_group_trains_each_member_as_it_would_alone(tiny_task, trainable):
  """Weights, fine-tuned rows and accuracies of each member equal the single child's up to
  float summation order. Batches of 8 short texts miss most rows: rows outside a member's
  batch must keep their values despite its l2."""
  members = _members(trainable)
  grouped_trainer = child.ChildTrainer(batch_size=8, space=GROUP_SPACE)
  grouped = grouped_trainer.train_group('tiny', members)
  architecture = grouped_trainer._stacked_architectures[(trainable, 2)]  # pylint: disable=protected-access
  cache = grouped_trainer.task_module_data('tiny', 'en-dim50')
  order = [1, 0, 2]  # longest first
  for (config, seed), result in zip(members, grouped, strict=True):
    single_trainer = child.ChildTrainer(batch_size=8, space=GROUP_SPACE)
    alone = single_trainer.train('tiny', config, seed)
    assert result.status == alone.status == result_lib.OK, result.message
    assert (result.val_accuracy, result.test_accuracy) == (alone.val_accuracy,
                                                           alone.test_accuracy)
    assert result.num_params == alone.num_params and result.seed == seed
    single, = single_trainer._architectures.values()  # pylint: disable=protected-access
    sizes = [4, config['nnodes'], config['nnodes'], 2]
    member = order.index(members.index((config, seed)))
    for (kernel, bias), (alone_kernel, alone_bias) in zip(
        architecture.weights(member, sizes), single.weights(), strict=True):
      np.testing.assert_allclose(kernel, alone_kernel, rtol=1e-4, atol=1e-5)
      np.testing.assert_allclose(bias, alone_bias, rtol=1e-4, atol=1e-5)
    if trainable:
      rows = cache.task_vocabulary()
      alone_table = single_trainer._fine_tuned_tables['en-dim50'].table.numpy()[rows]  # pylint: disable=protected-access
      assert not np.allclose(alone_table, single_trainer._module('en-dim50').embeddings.numpy()[rows])  # pylint: disable=protected-access
      member_table = architecture.member_table(member).numpy()[:-1]  # less padding
      np.testing.assert_allclose(member_table, alone_table,
                                 rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('trainable', [False, True])
def test_a_member_whose_loss_explodes_fails_alone(tiny_task, trainable):
  members = _members(trainable)
  members[1] = (dict(members[1][0], learning_rate=1e38, nnodes=200), 1)
  trainer = child.ChildTrainer(space=GROUP_SPACE)
  grouped = trainer.train_group('tiny', members)
  assert [r.status for r in grouped] == [result_lib.OK, result_lib.FAILED, result_lib.OK]
  assert 'non-finite training loss at step' in grouped[1].message and grouped[1].reward == 0
  for (config, seed), result in zip(members[::2], grouped[::2]):
    alone = trainer.train('tiny', config, seed)
    assert (result.val_accuracy, result.test_accuracy) == (alone.val_accuracy,
                                                           alone.test_accuracy)


def test_a_group_of_children_that_share_no_graph_is_an_error(tiny_task):
  members = _members(False)
  members[0] = (dict(members[0][0], nlayers=1), 0)
  with pytest.raises(ValueError, match='share task, module, fine-tuning and depth'):
    child.ChildTrainer(space=GROUP_SPACE).train_group('tiny', members)
