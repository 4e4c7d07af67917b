"""Proximal Adagrad against TF's kernels and the v1 optimizer."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from mnms_tf.children import optimizers

STEPS = 5


def _gradients(shape, seed):
  rng = np.random.default_rng(seed)
  return [rng.normal(size=shape).astype(np.float32) for _ in range(STEPS)]


@pytest.mark.parametrize('l1,l2', [(0.0, 0.0), (0.0, 0.05), (0.01, 0.05)])
def test_dense_update_matches_raw_op_and_v1(l1, l2):
  init = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
  grads = _gradients((4, 3), seed=2)
  ours = keras.Variable(init)
  optimizer = optimizers.ProximalAdagrad(learning_rate=0.3, initial_accumulator_value=0.1,
                                         l1=l1, l2=l2)
  reference, accum = tf.Variable(init), tf.Variable(np.full((4, 3), 0.1, np.float32))
  v1_var = tf.Variable(init)
  v1 = tf.compat.v1.train.ProximalAdagradOptimizer(
      0.3, initial_accumulator_value=0.1, l1_regularization_strength=l1,
      l2_regularization_strength=l2)
  for grad in grads:
    optimizer.apply([tf.constant(grad)], [ours])
    tf.raw_ops.ResourceApplyProximalAdagrad(var=reference.handle, accum=accum.handle, lr=0.3,
                                            l1=l1, l2=l2, grad=grad)
    v1.apply_gradients([(tf.constant(grad), v1_var)])
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.numpy(), v1_var.numpy(), atol=1e-6)


def test_sparse_update_matches_raw_op_and_v1_with_repeated_indices():
  init = np.random.default_rng(3).normal(size=(6, 2)).astype(np.float32)
  indices = [np.array([0, 2, 2]), np.array([5, 0]), np.array([1, 1, 1]), np.array([3]),
             np.array([2, 4])]
  ours = keras.Variable(init)
  optimizer = optimizers.ProximalAdagrad(learning_rate=0.1, l1=0.001, l2=0.01)
  v1_var = tf.Variable(init)
  v1 = tf.compat.v1.train.ProximalAdagradOptimizer(
      0.1, l1_regularization_strength=0.001, l2_regularization_strength=0.01)
  reference, accum = tf.Variable(init), tf.Variable(np.full((6, 2), 0.1, np.float32))
  rng = np.random.default_rng(4)
  for idx in indices:
    values = rng.normal(size=(len(idx), 2)).astype(np.float32)
    grad = tf.IndexedSlices(tf.constant(values), tf.constant(idx), tf.constant([6, 2]))
    optimizer.apply([grad], [ours])
    v1.apply_gradients([(grad, v1_var)])
    unique, inverse = np.unique(idx, return_inverse=True)
    summed = np.zeros((len(unique), 2), np.float32)
    np.add.at(summed, inverse, values)
    tf.raw_ops.ResourceSparseApplyProximalAdagrad(
        var=reference.handle, accum=accum.handle, lr=0.1, l1=0.001, l2=0.01, grad=summed,
        indices=unique)
    np.testing.assert_allclose(ours.numpy(), v1_var.numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), atol=1e-6)


def test_sparse_update_leaves_other_rows_alone():
  init = np.ones((5, 2), np.float32)
  ours = keras.Variable(init)
  optimizer = optimizers.ProximalAdagrad(learning_rate=0.5, l2=0.1)
  optimizer.apply([tf.IndexedSlices(tf.ones((1, 2)), tf.constant([3]), tf.constant([5, 2]))],
                  [ours])
  changed = np.flatnonzero(np.abs(ours.numpy() - init).sum(axis=1))
  assert changed.tolist() == [3]


def test_l1_produces_exact_zeros():
  variable = keras.Variable(np.random.default_rng(5).normal(scale=0.05, size=(50,)).astype(
      np.float32))
  optimizer = optimizers.ProximalAdagrad(learning_rate=0.1, l1=1.0)
  for _ in range(3):
    optimizer.apply([tf.zeros(50) + 1e-3], [variable])
  assert np.sum(variable.numpy() == 0.0) >= 45
  plain = keras.Variable(variable.numpy() + 0.05)
  optimizers.ProximalAdagrad(learning_rate=0.1).apply([tf.zeros(50) + 1e-3], [plain])
  assert np.all(plain.numpy() != 0.0)


def test_trains_a_keras_model_and_serializes():
  model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation='softmax')])
  optimizer = optimizers.ProximalAdagrad(learning_rate=0.5, l2=1e-3)
  model.compile(optimizer, 'sparse_categorical_crossentropy', metrics=['accuracy'])
  x = np.random.default_rng(6).normal(size=(200, 3)).astype(np.float32)
  y = (x[:, 0] > 0).astype(np.int64)
  model.fit(x, y, epochs=20, batch_size=20, verbose=0)
  assert model.evaluate(x, y, verbose=0)[1] > 0.9
  restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
  assert isinstance(restored, optimizers.ProximalAdagrad) and restored.l2 == 1e-3
