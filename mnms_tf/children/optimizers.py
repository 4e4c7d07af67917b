"""Proximal Adagrad (Duchi et al.), which the paper trains children with; Keras 3 has none.

Semantics are TF's kernel (`ResourceApplyProximalAdagrad`, what
`tf.compat.v1.train.ProximalAdagradOptimizer` runs):

    accum += g^2;  rate = lr / sqrt(accum);  v = var - rate * g
    var = sign(v) * max(|v| - rate * l1, 0) / (1 + rate * l2)

Sparse (IndexedSlices) gradients update only their rows, after summing repeated indices
like the v1 optimizer. We write the step in TF ops instead of calling TF's kernels
because the sparse kernel is single-threaded and took twice as long as gather/scatter
for a fine-tuned child's embedding table (1,500 rows x 128 per step); the tests hold our
step to TF's kernels.
"""
import keras
import tensorflow as tf


def proximal_step(value, accum, gradient, learning_rate, l1, l2):
  """(new value, new accumulator) for the given rows or whole tensor."""
  accum = accum + tf.square(gradient)
  rate = tf.cast(learning_rate, value.dtype) * tf.math.rsqrt(accum)
  moved = value - rate * gradient
  if not (isinstance(l1, (int, float)) and l1 == 0):  # children's l1 is 0: 4 ops less
    moved = tf.sign(moved) * tf.maximum(tf.abs(moved) - rate * l1, 0.0)
  return moved / (1.0 + rate * l2), accum


def tf_variable(variable):
  """The tf.Variable under a Keras 3 variable (or the variable itself)."""
  return variable.value if isinstance(variable, keras.Variable) else variable


def apply_proximal_adagrad_rows(variable, accumulator, rows, values, gradient, learning_rate,
                                l1, l2):
  """Updates distinct `rows` whose current `values` and summed `gradient` are given."""
  value, accum = proximal_step(values, tf.gather(accumulator, rows), gradient, learning_rate,
                                l1, l2)
  accumulator.scatter_update(tf.IndexedSlices(accum, rows))
  return variable.scatter_update(tf.IndexedSlices(value, rows))


def apply_proximal_adagrad(variable, accumulator, gradient, learning_rate, l1, l2):
  """One update of `variable` (and its `accumulator`); dense or IndexedSlices gradient."""
  variable, accumulator = tf_variable(variable), tf_variable(accumulator)
  if isinstance(gradient, tf.IndexedSlices):
    rows, positions = tf.unique(gradient.indices)
    summed = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(rows)[0])
    return apply_proximal_adagrad_rows(variable, accumulator, rows, tf.gather(variable, rows),
                                       summed, learning_rate, l1, l2)
  value, accum = proximal_step(variable, accumulator, gradient, learning_rate, l1, l2)
  accumulator.assign(accum)
  return variable.assign(value)


@keras.saving.register_keras_serializable(package='mnms_tf')
class ProximalAdagrad(keras.optimizers.Optimizer):
  """Keras 3 optimizer with TF's proximal Adagrad semantics (TensorFlow backend)."""

  def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, l1=0.0, l2=0.0,
               name='proximal_adagrad', **kwargs):
    super().__init__(learning_rate=learning_rate, name=name, **kwargs)
    if initial_accumulator_value <= 0:
      raise ValueError('initial_accumulator_value must be positive')
    if l1 < 0 or l2 < 0:
      raise ValueError('l1 and l2 must be non-negative')
    self.initial_accumulator_value = initial_accumulator_value
    self.l1 = l1
    self.l2 = l2

  def build(self, var_list):
    if self.built:
      return
    super().build(var_list)
    self._accumulators = [
        self.add_variable_from_reference(
            v, 'accumulator',
            initializer=keras.initializers.Constant(self.initial_accumulator_value))
        for v in var_list
    ]

  def update_step(self, gradient, variable, learning_rate):
    accumulator = self._accumulators[self._get_variable_index(variable)]
    apply_proximal_adagrad(variable, accumulator, gradient, learning_rate, self.l1, self.l2)

  def get_config(self):
    return dict(super().get_config(), initial_accumulator_value=self.initial_accumulator_value,
                l1=self.l1, l2=self.l2)
