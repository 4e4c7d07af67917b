"""Task registry: a task name gives its data, splits, features, class count and language.

Built-in tasks are the paper's four (online: imdb_reviews, sst2, corpus_cine, and the
language-id task) and their offline stand-ins. A user's own task is a CSV/TSV file
declared with gin bindings only; see gin/examples/user_task.gin.
"""
import codecs
import collections
import csv
import dataclasses
import functools
import hashlib
import io
import os
import re
from typing import Optional

import gin
import numpy as np

from mnms_tf.data import online
from mnms_tf.data import sources
from mnms_tf.data.tasks import builders
from mnms_tf import errors
from mnms_tf import paths

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
  """A user's task from a UTF-8 CSV or TSV file with a header row.

  Labels are the distinct values of `label_column`, sorted; rows with an empty text or
  label are skipped and counted. Without a `split_column` the rows are split by a seeded
  permutation. With one, its values must be train, validation or test (any case): other
  values are refused rather than skipped, since a misspelt split ('dev') would otherwise
  silently shrink or empty a split. Bad files raise a one-line TaskDataError.
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
  # The gin scope it was made in, so errors can name the binding to fix; and the flags
  # that set parameters where a binary made the task from its flags (`file_task_gin`).
  gin_scope: str = dataclasses.field(default='', repr=False, compare=False)
  flags: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

  def __post_init__(self):
    if not self.gin_scope:
      object.__setattr__(self, 'gin_scope', gin.current_scope_str())

  def binding(self, parameter):
    """What sets `parameter`: its flag, or its gin binding, e.g.
    'my_reviews/FileTask.text_column'."""
    if parameter in self.flags:
      return self.flags[parameter]
    return f'{self.gin_scope + "/" if self.gin_scope else ""}FileTask.{parameter}'

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


def _read_text(task):
  """The file's text, read strictly: undecodable bytes are refused, not replaced."""
  if not os.path.isfile(task.path):
    where = '' if os.path.isabs(task.path) else f' (relative to {os.getcwd()})'
    raise builders.TaskDataError(f'Task {task.name!r}: no file at {task.path}{where}; fix '
                                 f'{task.binding("path")}.')
  with open(task.path, 'rb') as f:
    data = f.read()
  data = data.removeprefix(codecs.BOM_UTF8)  # as spreadsheets save "CSV UTF-8"
  try:
    return data.decode('utf-8')
  except UnicodeDecodeError as e:
    line = data.count(b'\n', 0, e.start) + 1
    root, extension = os.path.splitext(task.path)
    raise builders.TaskDataError(
        f'Task {task.name!r}: {task.path} is not UTF-8 (line {line} has byte '
        f'0x{data[e.start]:02x}); re-save it as UTF-8, or convert it with e.g. '
        f'`iconv -f latin1 -t utf-8 {task.path} > {root}.utf8{extension}`.'
    ) from None


def _read_rows(task, text, refuse):
  """([(text, label, split or None)], counts of skipped rows) of the file's text."""
  delimiter = task.delimiter or ('\t' if task.path.endswith('.tsv') else ',')
  reader = csv.DictReader(io.StringIO(text, newline=''), delimiter=delimiter)
  columns = {'text_column': task.text_column, 'label_column': task.label_column}
  if task.split_column:
    columns['split_column'] = task.split_column
  rows, skipped, unknown = [], collections.Counter(skipped_garbled=0, skipped_by_rule=0), {}
  try:
    header = reader.fieldnames
    missing = [p for p, c in columns.items() if c not in header]
    if missing:
      hint = (f' or {task.binding("delimiter")} (the header was read with {delimiter!r})'
              if len(header) == 1 else '')
      refuse(f'has no column(s) {[columns[p] for p in missing]}: its header is {header}; '
             f'fix {", ".join(map(task.binding, missing))}{hint}.')
    for record in reader:
      text, label = record[task.text_column], record[task.label_column]
      split = (record[task.split_column] or '').strip() if task.split_column else None
      if not (text or '').strip() or not (label or '').strip():
        skipped['skipped_garbled'] += 1
      elif task.split_column and split.lower() not in SPLITS:
        unknown.setdefault(split, reader.line_num)
      else:
        rows.append((text.strip(), label.strip(), split and split.lower()))
  except csv.Error as e:
    refuse(f'is not a readable CSV/TSV (line {reader.line_num}: {e}).')
  if unknown:
    value, line = next(iter(unknown.items()))
    refuse(f'has split values other than train/validation/test in column '
           f'{task.split_column!r}: {sorted(unknown)[:5]} (first {value!r} on line {line}); '
           f'rename them, or remove {task.binding("split_column")} to split by fractions.')
  return rows, skipped


@functools.lru_cache(maxsize=None)  # errors are not cached: a fixed file is read again
def _read_file_task(task):
  def refuse(problem):
    raise builders.TaskDataError(f'Task {task.name!r}: {task.path} {problem}')

  text = _read_text(task)
  if not text.strip():
    refuse('is empty; it needs a header row naming the columns, then one example per line.')
  rows, skipped = _read_rows(task, text, refuse)
  if not rows:
    refuse('has a header but no rows; add one example per line below it.' if not skipped[
        'skipped_garbled'] else f'has no usable rows: all {skipped["skipped_garbled"]} have '
        f'an empty {task.text_column!r} or {task.label_column!r}.')
  label_names = sorted({label for _, label, _ in rows})
  if len(label_names) < 2:
    refuse(f'has only one label ({label_names[0]!r}) in column {task.label_column!r}; a '
           f'classifier needs at least 2 classes.')
  label_index = {name: i for i, name in enumerate(label_names)}
  if task.split_column:
    members = {s: [i for i, row in enumerate(rows) if row[2] == s] for s in SPLITS}
  else:
    members = builders.split_indices(len(rows), task.split_fractions, task.split_seed)
  for split, idx in members.items():
    if not len(idx):
      refuse(f'has no row with {split!r} in column {task.split_column!r}; every split needs '
             f'examples: mark some rows {split!r}.' if task.split_column else
             f'has {len(rows)} usable rows, too few for split_fractions '
             f'{tuple(task.split_fractions)}: the {split} split gets none; add rows or change '
             f'{task.binding("split_fractions")}.')
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
    # The suite (docs/data.md): further real tasks from package data.
    TfdsTask('german_langid', 'german_langid', language='multi', num_classes=2),
    TfdsTask('french_langid', 'french_langid', language='multi', num_classes=2),
    TfdsTask('italian_langid', 'italian_langid', language='multi', num_classes=2),
    TfdsTask('vader_tweets', 'vader_tweets', language='en', num_classes=2),
    TfdsTask('nyt_editorials', 'nyt_editorials', language='en', num_classes=2),
    TfdsTask('pang_lee_sentences', 'pang_lee_sentences', language='en', num_classes=2),
    TfdsTask('fr_amazon_reviews', 'fr_amazon_reviews', language='fr', num_classes=2),
    TfdsTask('nl_bol_reviews', 'nl_bol_reviews', language='nl', num_classes=2),
    TfdsTask('convention_speeches', 'convention_speeches', language='en', num_classes=2),
    TfdsTask('debate_speakers', 'debate_speakers', language='en', num_classes=4),
)
_STAND_INS = {t.stand_in_for: t.name for t in _BUILT_IN if t.stand_in_for}
OFFLINE_TASKS = ('spanish_langid', 'rt_snippets', 'polarity_reviews', 'es_tweets')
# The paper's four offline tasks and ten more; `build_data --tasks=suite` builds them.
SUITE_TASKS = OFFLINE_TASKS + (
    'german_langid', 'french_langid', 'italian_langid', 'vader_tweets', 'nyt_editorials',
    'pang_lee_sentences', 'fr_amazon_reviews', 'nl_bol_reviews', 'convention_speeches',
    'debate_speakers')


_FILE_TASK_SCOPE = 'task_file'


def file_task_gin(path, text_column, label_column, name=None, language='en',
                  split_column=None, flags=None):
  """The gin that makes a file a user task (the `FileTask` and `user_tasks` lines a user
  would write), and the task's name: by default the file's name, lower case, with
  anything but letters, digits and '_' made '_'. `flags`: parameter -> the flag that set
  it, which errors name instead of a binding."""
  name = name or re.sub(r'[^a-z0-9_]', '_', os.path.splitext(os.path.basename(path))[0].lower())
  if name in {t.name for t in _BUILT_IN}:
    raise UnknownTaskError(f'The task name {name!r} is a built-in task\'s: give another '
                           f'(--task_name)')
  values = dict(name=name, path=os.path.abspath(path), text_column=text_column,
                label_column=label_column, language=language, split_column=split_column,
                flags=dict(flags or {}))
  lines = ['import mnms_tf.data.tasks.registry']
  lines += [f'{_FILE_TASK_SCOPE}/FileTask.{key} = {value!r}' for key, value in values.items()]
  lines.append(f'user_tasks.tasks = [@{_FILE_TASK_SCOPE}/FileTask()]')
  return '\n'.join(lines), name


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


def check_task(name, data_dir):
  """Loads a task's splits and refuses unusable data with a one-line TaskDataError.

  Called before any child trains, so bad input stops a run at once instead of turning
  into a search of failed children. Returns {split: size, ..., 'num_classes': n} to log.
  """
  task = get_task(name)
  splits = {s: load_split(name, s, data_dir) for s in SPLITS}
  source = task.path if isinstance(task, FileTask) else f'tfds {task.tfds_name!r}'
  total = sum(map(len, splits.values()))
  for split, data in splits.items():
    if not len(data):
      raise builders.TaskDataError(
          f'Task {name!r}: its {split} split has no examples ({source} gives {total} in all '
          f'splits); use a larger source so every split gets some.')
  classes = np.unique(splits['train'].labels)
  if len(classes) < 2:
    label = (task.prepare()[1][classes[0]] if isinstance(task, FileTask) else int(classes[0]))
    raise builders.TaskDataError(
        f'Task {name!r}: its train split ({len(splits["train"])} examples of {source}) has '
        f'only one label ({label!r}); a classifier needs at least 2 classes to train on.')
  return dict({s: len(data) for s, data in splits.items()}, num_classes=task.num_classes)
