"""Task registry: a task name gives its data, splits, features, class count and language.

Built-in tasks are the paper's four (online: imdb_reviews, sst2, corpus_cine, and the
language-id task) and their offline stand-ins. A user's own task is a CSV/TSV file
declared with gin bindings only; see gin/examples/user_task.gin.
"""
import collections
import csv
import dataclasses
import functools
import hashlib
import os
from typing import Optional

import gin
import numpy as np

from mnms_tf import errors
from mnms_tf import online
from mnms_tf import paths
from mnms_tf import sources
from mnms_tf.tasks import builders

SPLITS = builders.SPLITS
_STANDARD_SPLITS = {split: split for split in SPLITS}
_TFDS_STORAGE = 'https://storage.googleapis.com'


class UnknownTaskError(errors.UserError, ValueError):
  pass


@dataclasses.dataclass(frozen=True)
class TaskSplit:
  texts: np.ndarray  # object array of str
  labels: np.ndarray  # int64

  def __len__(self):
    return len(self.labels)


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity, for memoized loads
class TfdsTask:
  """A task stored as a tfds dataset (one of ours, or tfds's own when online)."""
  name: str
  tfds_name: str
  language: str
  num_classes: int
  splits: dict = dataclasses.field(default_factory=lambda: dict(_STANDARD_SPLITS))
  text_feature: str = 'text'
  label_feature: str = 'label'
  needs_internet: bool = False
  stand_in_for: str = ''

  def builder(self, data_dir):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    return tfds.builder(self.tfds_name, data_dir=paths.tfds_dir(data_dir))

  def prepare(self, data_dir):
    """Builds the dataset in `data_dir` unless it is there already."""
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    builder = self.builder(data_dir)
    if builder.is_prepared():
      return builder
    if self.needs_internet:
      online.require_reachable(
          _TFDS_STORAGE, f'Task {self.name!r} (tfds {self.tfds_name!r}, not yet prepared in '
          f'{paths.tfds_dir(data_dir)})',
          f'Run `python -m mnms_tf.bin.build_data --tasks={self.name}` on a machine with '
          f'internet and copy its data_dir here, or use the offline stand-in '
          f'{_STAND_INS.get(self.name, "")!r}.')
    downloads = paths.downloads_dir(data_dir)
    builder.download_and_prepare(
        download_dir=downloads,
        download_config=tfds.download.DownloadConfig(
            manual_dir=os.path.join(downloads, 'manual')))
    return builder

  def load(self, split, data_dir):
    builder = self.prepare(data_dir)
    texts, labels = [], []
    for batch in builder.as_dataset(split=self.splits[split]).batch(4096).as_numpy_iterator():
      texts.extend(t.decode('utf-8') for t in batch[self.text_feature])
      labels.append(batch[self.label_feature])
    return TaskSplit(np.array(texts, dtype=object), np.concatenate(labels).astype(np.int64))

  def fingerprint(self, data_dir):
    builder = self.prepare(data_dir)
    return f'{self.tfds_name}:{builder.version}:{builder.info.splits.total_num_examples}'

  def skipped(self, data_dir):
    metadata = self.prepare(data_dir).info.metadata or {}
    return {key: int(metadata.get(key, 0)) for key in ('skipped_garbled', 'skipped_by_rule')}


@gin.configurable
@dataclasses.dataclass(frozen=True)
class FileTask:
  """A user's task from a CSV or TSV file with a header row.

  Labels are the distinct values of `label_column`, sorted; rows with an empty text or
  label are skipped and counted. Without a `split_column` (values train, validation,
  test) the rows are split by a seeded permutation.
  """
  name: str
  path: str
  text_column: str
  label_column: str
  language: str = 'en'
  delimiter: Optional[str] = None  # default: tab for .tsv files, comma otherwise
  split_column: Optional[str] = None
  split_fractions: tuple = (0.8, 0.1, 0.1)
  split_seed: int = builders._SplitBuilder.SPLIT_SEED  # pylint: disable=protected-access

  def prepare(self, data_dir=None):
    del data_dir  # the file is its own storage
    return _read_file_task(self)

  @property
  def num_classes(self):
    return len(self.prepare()[1])

  def load(self, split, data_dir=None):
    splits, _, _ = self.prepare(data_dir)
    return splits[split]

  def fingerprint(self, data_dir=None):
    return f'file:{sources.sha256_of(self.path)}:{hashlib.sha256(repr(self).encode()).hexdigest()}'

  def skipped(self, data_dir=None):
    return dict(self.prepare(data_dir)[2])


@functools.lru_cache(maxsize=None)
def _read_file_task(task):
  if not os.path.exists(task.path):
    raise builders.TaskDataError(f'Task {task.name!r}: no file at {task.path}')
  delimiter = task.delimiter or ('\t' if task.path.endswith('.tsv') else ',')
  with open(task.path, newline='', encoding='utf-8', errors='replace') as f:
    reader = csv.DictReader(f, delimiter=delimiter)
    columns = [task.text_column, task.label_column] + [task.split_column] * bool(task.split_column)
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
      raise builders.TaskDataError(f'Task {task.name!r}: {task.path} has no column(s) {missing}; '
                       f'its header is {reader.fieldnames}')
    rows, skipped = [], collections.Counter(skipped_garbled=0, skipped_by_rule=0)
    for record in reader:
      text, label = record.get(task.text_column), record.get(task.label_column)
      split = record.get(task.split_column) if task.split_column else None
      if not (text or '').strip() or not (label or '').strip() or (
          task.split_column and split not in SPLITS):
        skipped['skipped_garbled'] += 1
      else:
        rows.append((text.strip(), label.strip(), split))
  if not rows:
    raise builders.TaskDataError(f'Task {task.name!r}: {task.path} has no usable rows '
                     f'({skipped["skipped_garbled"]} garbled)')
  label_names = sorted({label for _, label, _ in rows})
  label_index = {name: i for i, name in enumerate(label_names)}
  if task.split_column:
    members = {s: [i for i, row in enumerate(rows) if row[2] == s] for s in SPLITS}
  else:
    members = builders.split_indices(len(rows), task.split_fractions, task.split_seed)
  splits = {
      s: TaskSplit(
          np.array([rows[i][0] for i in idx], dtype=object),
          np.array([label_index[rows[i][1]] for i in idx], dtype=np.int64))
      for s, idx in members.items()
  }
  return splits, label_names, skipped


_BUILT_IN = (
    TfdsTask('spanish_langid', 'spanish_langid', language='multi', num_classes=2),
    TfdsTask('rt_snippets', 'rt_snippets', language='en', num_classes=2, stand_in_for='sst2'),
    TfdsTask('polarity_reviews', 'polarity_reviews', language='en', num_classes=2,
             stand_in_for='imdb_reviews'),
    TfdsTask('es_tweets', 'es_tweets', language='es', num_classes=2, stand_in_for='corpus_cine'),
    TfdsTask('imdb_reviews', 'imdb_reviews/plain_text', language='en', num_classes=2,
             splits={'train': 'train[:80%]', 'validation': 'train[80%:]', 'test': 'test'},
             needs_internet=True),
    # GLUE hides SST-2's test labels: its validation split serves as our test split.
    TfdsTask('sst2', 'glue/sst2', language='en', num_classes=2, text_feature='sentence',
             splits={'train': 'train[5%:]', 'validation': 'train[:5%]', 'test': 'validation'},
             needs_internet=True),
    TfdsTask('corpus_cine', 'corpus_cine', language='es', num_classes=2),
)
_STAND_INS = {t.stand_in_for: t.name for t in _BUILT_IN if t.stand_in_for}
OFFLINE_TASKS = ('spanish_langid', 'rt_snippets', 'polarity_reviews', 'es_tweets')


@gin.configurable
def user_tasks(tasks=()):
  """The user's own tasks, bound in gin: `user_tasks.tasks = [@my_task/FileTask()]`."""
  return tuple(tasks)


def all_tasks():
  tasks = {t.name: t for t in _BUILT_IN}
  for task in user_tasks():
    tasks[task.name] = task
  return tasks


def get_task(name):
  tasks = all_tasks()
  if name not in tasks:
    raise UnknownTaskError(f'Unknown task {name!r}; known tasks: {", ".join(sorted(tasks))}')
  return tasks[name]


def load_split(name, split, data_dir):
  """The (texts, labels) of one split of a task, memoized per process."""
  if split not in SPLITS:
    raise builders.TaskDataError(f'Unknown split {split!r}; splits are {SPLITS}')
  return _load(get_task(name), split, data_dir)


@functools.lru_cache(maxsize=64)
def _load(task, split, data_dir):
  return task.load(split, data_dir)
