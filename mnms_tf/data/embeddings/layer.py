"""A Keras 3 layer over a TF-Hub text-embedding module.

`hub.KerasLayer` does not work in Keras 3 models. This layer calls the module loaded
with `hub.load` and wraps each of the module's tf.Variables in a Keras Variable that
aliases it (Keras's TF backend keeps a given tf.Variable as the value), so Keras sees,
trains and freezes the module's table like its own weights; the table receives sparse
(IndexedSlices) gradients.
"""
import keras

from mnms_tf.data.embeddings import registry


@keras.saving.register_keras_serializable(package='mnms_tf')
class HubTextEmbedding(keras.layers.Layer):
  """[batch] strings -> [batch, dim] sentence vectors from a module slot name or handle."""

  def __init__(self, handle, trainable=False, data_dir=None, **kwargs):
    super().__init__(trainable=trainable, **kwargs)
    self.handle = handle
    self.data_dir = data_dir
    self.module = registry.load(handle, data_dir)
    self._module_weights = [
        keras.Variable(v, trainable=trainable, name=v.name.split(':')[0])
        for v in self.module.variables
    ]
    for weight in self._module_weights:
      self._track_variable(weight)

  def call(self, sentences):
    return self.module(sentences)

  def get_config(self):
    return dict(super().get_config(), handle=self.handle, data_dir=self.data_dir)
