"""Writes text-embedding modules in the TF-Hub SavedModel format of the NNLM modules.

A module maps a batch of strings to sentence vectors: lowercase, split off punctuation,
split on white space, look tokens up in the vocabulary (unknown tokens hash into OOV
buckets), gather word vectors, combine with sqrt-n (sum / sqrt(#tokens)). NNLM splits on
spaces only; we also split off punctuation because the GloVe vocabulary holds punctuation
as separate tokens, which keeps "movie," from being out of vocabulary.

Besides `__call__`, modules built here export `tokenize` (strings -> ragged token ids) and
`embeddings` so that callers can tokenise a dataset once and reuse the ids.
"""
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

MODULE_INFO = 'mnms_module.json'  # written last: its presence marks a complete module
_PUNCTUATION = r'([^\pL\pN\s])'


def split_tokens(sentences):
  """Lowercased tokens of a [batch] string tensor, as a RaggedTensor."""
  lowered = tf.strings.lower(sentences, encoding='utf-8')
  return tf.strings.split(tf.strings.regex_replace(lowered, _PUNCTUATION, r' \1 '))


class TextEmbeddingModule(tf.Module):
  """The module's graph: vocabulary table, embedding matrix, tokenizer and combiner."""

  def __init__(self, vocab_file, embeddings, num_oov_buckets):
    super().__init__(name='text_embedding')
    self.vocab_file = tf.saved_model.Asset(vocab_file)
    self.table = tf.lookup.StaticVocabularyTable(
        tf.lookup.TextFileInitializer(
            self.vocab_file, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64,
            tf.lookup.TextFileIndex.LINE_NUMBER), num_oov_buckets)
    self.embeddings = tf.Variable(embeddings, name='embeddings')

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def tokenize(self, sentences):
    return self.table.lookup(split_tokens(sentences))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
  def __call__(self, sentences):
    ids = self.tokenize(sentences)
    return tf.nn.safe_embedding_lookup_sparse(
        self.embeddings, ids.to_sparse(), None, combiner='sqrtn')


def clean_vocabulary(words, vectors):
  """Drops empty tokens, tokens with white space and repeats (first occurrence wins)."""
  keep, seen = [], set()
  for i, word in enumerate(words):
    if word and word == word.strip() and len(word.split()) == 1 and word not in seen:
      seen.add(word)
      keep.append(i)
  return [words[i] for i in keep], vectors[keep]


def save_module(path, words, vectors, num_oov_buckets, info):
  """Saves a hub-format module at `path` atomically; returns the info written beside it.

  OOV bucket vectors start at zero: frozen, unknown tokens add nothing but count in the
  sqrt-n denominator; fine-tuned, they learn like any other row.
  """
  words, vectors = clean_vocabulary(list(words), np.asarray(vectors, np.float32))
  table = np.concatenate([vectors, np.zeros((num_oov_buckets, vectors.shape[1]), np.float32)])
  parent = os.path.dirname(os.path.abspath(path))
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(dir=parent, prefix='.building-')
  try:
    vocab_file = os.path.join(staging, 'vocab.txt')
    with open(vocab_file, 'w', encoding='utf-8') as f:
      f.write('\n'.join(words) + '\n')
    module = TextEmbeddingModule(vocab_file, table, num_oov_buckets)
    # hub.load exposes these attributes; Keras layers read `variables` to train the table.
    root = tf.train.Checkpoint()
    root.__call__ = module.__call__
    root.tokenize = module.tokenize
    root.embeddings = module.embeddings
    root.table = module.table
    root.vocab_file = module.vocab_file
    root.variables = [module.embeddings]
    root.trainable_variables = [module.embeddings]
    root.regularization_losses = []
    saved = os.path.join(staging, 'module')
    tf.saved_model.save(root, saved)
    info = dict(info, dim=int(vectors.shape[1]), vocab_size=len(words),
                num_oov_buckets=int(num_oov_buckets))
    with open(os.path.join(saved, MODULE_INFO), 'w') as f:
      json.dump(info, f, indent=1, sort_keys=True)
    if os.path.exists(path):
      shutil.rmtree(path)
    os.replace(saved, path)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return info


def read_info(path):
  """The build info of a complete module at `path`, or None."""
  try:
    with open(os.path.join(path, MODULE_INFO)) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None
