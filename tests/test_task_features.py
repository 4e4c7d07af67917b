"""Task representations: the closed-form Fisher against autodiff, the similarities on
hand-computed numbers, and a cached, deterministic Task2Vec of a tiny task."""
import numpy as np
import pytest
import tensorflow as tf

from mnms_tf.data import features as task_features


def test_hidden_layer_fisher_equals_the_expected_squared_gradient_by_autodiff():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(5, 4)).astype(np.float64)
  w1, b1 = rng.normal(size=(4, 3)), rng.normal(size=3)
  w2, b2 = rng.normal(size=(3, 3)), rng.normal(size=3)
  expected_w1, expected_b1 = np.zeros((4, 3)), np.zeros(3)
  for example in x:
    variables = [tf.Variable(w1), tf.Variable(b1)]
    with tf.GradientTape(persistent=True) as tape:
      logits = tf.nn.relu(example[None] @ variables[0] + variables[1]) @ w2 + b2
      log_p = tf.nn.log_softmax(logits)[0]
      per_label = [log_p[label] for label in range(3)]
    p = np.exp(log_p.numpy())
    for label in range(3):
      g_w1, g_b1 = tape.gradient(per_label[label], variables)
      expected_w1 += p[label] * g_w1.numpy() ** 2 / len(x)
      expected_b1 += p[label] * g_b1.numpy() ** 2 / len(x)
  np.testing.assert_allclose(task_features.hidden_layer_fisher(x, w1, b1, w2, b2),
                             np.concatenate([expected_w1.ravel(), expected_b1]), rtol=1e-10)


def test_similarities_on_hand_computed_numbers():
  a, b = np.array([1.0, 0.0, 1.0]), np.array([1.0, 1.0, 0.0])
  assert task_features.similarity(a, b) == pytest.approx(0.5)
  # a / (a + b) = [0.5, 0, 1], b / (a + b) = [0.5, 1, 0]: cosine 0.25 / 1.25.
  assert task_features.similarity(a, b, 'normalized_cosine') == pytest.approx(0.2)
  assert task_features.similarity(a, a, 'normalized_cosine') == pytest.approx(1.0)
  with pytest.raises(ValueError, match='similarity kind must be one of'):
    task_features.similarity(a, b, 'euclid')


@pytest.mark.usefixtures('tiny_task')
def test_task2vec_of_a_tiny_task_is_cached_deterministic_and_unit_per_module(tmp_path):
  settings = task_features.ProbeSettings(hidden_units=4, train_steps=20, num_examples=100)
  data_dir = str(tmp_path / 'data')
  first = task_features.task2vec('tiny', data_dir, ['en-dim50', 'es-dim50'], settings)
  assert first.shape == (2 * (4 * 4 + 4),) and np.all(first >= 0)
  np.testing.assert_allclose([np.linalg.norm(first[:20]), np.linalg.norm(first[20:])], 1.0)
  np.testing.assert_array_equal(first[:20], first[20:])  # both slots hold the tiny module:
  cached = list((tmp_path / 'data' / 'cache' / 'task_features').iterdir())
  assert len(cached) == 1  # cached by module contents, once
  np.testing.assert_array_equal(
      task_features.task2vec('tiny', data_dir, ['en-dim50', 'es-dim50'], settings), first)
  other = task_features.task2vec('tiny', data_dir, ['en-dim50'],
                                 task_features.ProbeSettings(hidden_units=4, train_steps=21,
                                                             num_examples=100))
  assert len(list((tmp_path / 'data' / 'cache' / 'task_features').iterdir())) == 2
  assert not np.array_equal(other, first[:20])
  features = task_features.meta_features('tiny', data_dir, ['en-dim50'])
  assert features['num_classes'] == 2 and features['class_balance'] == pytest.approx(1.0, 0.01)
  assert 0.0 <= features['probe_accuracy/en-dim50'] <= 1.0
