"""The trial store: every child a search evaluated, in `ROOT_DIR/trials.sqlite`.

SQLite (stdlib, WAL journal) so that a crash at any moment keeps every committed trial,
readers (figures, export, a notebook) can query a running search, and nothing needs a
server. A trial is keyed by (iteration, slot), its place in the search; storing the
same key twice is refused, which is what makes a resumed search store nothing twice.
"""
import contextlib
import json
import os
import sqlite3
import time

from mnms_tf.children import result as result_lib
from mnms_tf import errors

FILENAME = 'trials.sqlite'
OK, FAILED = result_lib.OK, result_lib.FAILED

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
  id INTEGER PRIMARY KEY,
  iteration INTEGER NOT NULL,
  slot INTEGER NOT NULL,
  task TEXT NOT NULL,
  config TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  seed INTEGER NOT NULL,
  status TEXT NOT NULL,
  message TEXT NOT NULL DEFAULT '',
  val_accuracy REAL NOT NULL,
  test_accuracy REAL NOT NULL,
  reward REAL NOT NULL,
  seconds REAL NOT NULL,
  worker TEXT NOT NULL,
  reused_from INTEGER,
  started_at REAL NOT NULL,
  finished_at REAL NOT NULL,
  UNIQUE (iteration, slot)
);
CREATE INDEX IF NOT EXISTS trials_by_task_hash ON trials (task, config_hash);
CREATE TABLE IF NOT EXISTS controller_seconds (
  task TEXT PRIMARY KEY,
  seconds REAL NOT NULL
);
"""
COLUMNS = ('id', 'iteration', 'slot', 'task', 'config', 'config_hash', 'seed', 'status',
           'message', 'val_accuracy', 'test_accuracy', 'reward', 'seconds', 'worker',
           'reused_from', 'started_at', 'finished_at')


class StoreError(errors.UserError, RuntimeError):
  pass


def connect(path, schema, table, read_only, what):
  """A connection to the SQLite database at `path`: WAL journal and `schema` made unless
  `read_only`; StoreError (naming it `what`) if it cannot be read, `table` first of all."""
  uri = f'file:{path}?mode=ro' if read_only else f'file:{path}'
  try:
    db = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
    db.row_factory = sqlite3.Row
    if not read_only:
      db.execute('PRAGMA journal_mode=WAL')
      db.executescript(schema)
    db.execute(f'SELECT count(*) FROM {table}').fetchone()
  except sqlite3.DatabaseError as e:
    raise StoreError(f'{what} {path} is unreadable ({e}); it was not modified') from e
  return db


@contextlib.contextmanager
def transaction(db):
  """One write transaction, committed when the block ends, rolled back if it raises."""
  db.execute('BEGIN IMMEDIATE')
  try:
    yield
  except BaseException:
    db.execute('ROLLBACK')
    raise
  db.execute('COMMIT')


class TrialStore:
  """Durable trials of one run directory; rows come back as dicts with `config` decoded."""

  def __init__(self, root_dir, read_only=False):
    self.path = os.path.join(root_dir, FILENAME)
    if read_only and not os.path.exists(self.path):
      raise StoreError(f'No trial store at {self.path}: is {root_dir} a search run directory?')
    self._db = connect(self.path, _SCHEMA, 'trials', read_only, 'Trial store')

  def close(self):
    self._db.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def add(self, iteration, slot, result, worker, started_at, reused_from=None):
    """Stores one child's result (a ChildResult); commits before returning."""
    row = dict(iteration=int(iteration), slot=int(slot), task=result.task,
               config=json.dumps(result.config, sort_keys=True),
               config_hash=result.config_hash, seed=int(result.seed), status=result.status,
               message=result.message, val_accuracy=result.val_accuracy,
               test_accuracy=result.test_accuracy, reward=result.reward,
               seconds=result.total_seconds, worker=str(worker), reused_from=reused_from,
               started_at=started_at, finished_at=time.time())
    try:
      with transaction(self._db):
        cursor = self._db.execute(
            f'INSERT INTO trials ({", ".join(row)}) VALUES ({", ".join("?" * len(row))})',
            list(row.values()))
    except sqlite3.IntegrityError as e:
      raise StoreError(f'Trial (iteration {iteration}, slot {slot}) is stored already') from e
    return cursor.lastrowid

  def _rows(self, where='', params=(), order='ORDER BY iteration, slot', limit=''):
    cursor = self._db.execute(f'SELECT * FROM trials {where} {order} {limit}', params)
    return [dict(row, config=json.loads(row['config'])) for row in cursor]

  def trials(self, task=None, status=None, before_iteration=None):
    """Every trial in search order, optionally of one task and status, and of iterations
    before `before_iteration`."""
    clauses, params = [], []
    for clause, value in (('task = ?', task), ('status = ?', status),
                          ('iteration < ?', before_iteration)):
      if value is not None:
        clauses.append(clause)
        params.append(value)
    return self._rows(f'WHERE {" AND ".join(clauses)}' if clauses else '', params)

  def last_iterations(self, task, count):
    """The trials of the task's last `count` iterations, in search order."""
    return self._rows('WHERE task = ? AND iteration IN (SELECT DISTINCT iteration FROM trials '
                      'WHERE task = ? ORDER BY iteration DESC LIMIT ?)', (task, task, count))

  def iteration(self, iteration):
    """slot -> trial of one iteration."""
    return {row['slot']: row for row in self._rows('WHERE iteration = ?', (iteration,))}

  def evaluated(self, task, config_hash, before_iteration=None):
    """The first successful trial of this config on this task (of an iteration before
    `before_iteration`, if given), or None."""
    where = 'WHERE task = ? AND config_hash = ? AND status = ? AND reused_from IS NULL'
    params = [task, config_hash, OK]
    if before_iteration is not None:
      where += ' AND iteration < ?'
      params.append(int(before_iteration))
    rows = self._rows(where, params, limit='LIMIT 1')
    return rows[0] if rows else None

  def best(self, task):
    """The successful trial of `task` with the highest validation accuracy (first on ties)."""
    rows = self._rows('WHERE task = ? AND status = ?', (task, OK),
                      order='ORDER BY val_accuracy DESC, id', limit='LIMIT 1')
    return rows[0] if rows else None

  def tasks(self):
    return [row[0] for row in self._db.execute('SELECT DISTINCT task FROM trials ORDER BY task')]

  def record_controller_seconds(self, seconds):
    """task -> the seconds the controller itself trained for it so far (a supernet), the
    search's cost besides its children's."""
    if not seconds:
      return
    with transaction(self._db):
      self._db.executemany('INSERT OR REPLACE INTO controller_seconds VALUES (?, ?)',
                           [(task, float(s)) for task, s in seconds.items()])

  def controller_seconds(self):
    """task -> `record_controller_seconds`'s last; {} for a store from before it."""
    try:
      return {row[0]: row[1] for row in self._db.execute('SELECT * FROM controller_seconds')}
    except sqlite3.OperationalError:  # no such table: read-only, written before it existed
      return {}

  def count(self):
    return self._db.execute('SELECT count(*) FROM trials').fetchone()[0]


def snapshot(source, destination):
  """Copies the SQLite database at path `source` (a trial store, the benchmark's ground
  truth) to path `destination` as one consistent file, with the SQLite backup API: safe
  while a search writes to it, and with no write-ahead log beside it."""
  if not os.path.exists(source):
    raise StoreError(f'No database at {source}')
  os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
  with contextlib.closing(sqlite3.connect(f'file:{source}?mode=ro', uri=True)) as src, \
      contextlib.closing(sqlite3.connect(destination + '.tmp')) as dst:
    src.backup(dst)
  os.replace(destination + '.tmp', destination)


def result_from_row(row):
  """The ChildResult a stored row records (what a resume takes instead of retraining)."""
  return result_lib.ChildResult(
      task=row['task'], config=row['config'], config_hash=row['config_hash'], seed=row['seed'],
      status=row['status'], message=row['message'], val_accuracy=row['val_accuracy'],
      test_accuracy=row['test_accuracy'], reward=row['reward'], total_seconds=row['seconds'])
