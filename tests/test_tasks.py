"""Task builders, splits and the registry, on tiny fixture files."""
import json
import os
import re
import socket
import subprocess
import sys

import gin
import numpy as np
import pytest

from mnms_tf import configs
from mnms_tf.data import online
from mnms_tf.data.tasks import builders
from mnms_tf.data.tasks import registry


def _write_manual(data_dir, filename, text):
  manual = os.path.join(data_dir, 'downloads', 'manual')
  os.makedirs(manual, exist_ok=True)
  with open(os.path.join(manual, filename), 'w', encoding='utf-8') as f:
    f.write(text)


def _rt_fixture(num_rows):
  lines = [f'{i}\t{(-1) ** i * (1 + i / 10):.3f}\tSentence number {i}, quite {"good" if i % 2 == 0 else "bad"}.'
           for i in range(num_rows)]
  lines += ['999\t0.25\tA neutral sentence.', 'garbled line without tabs', '1000\tnot-a-number\tx',
            '1001\t1.5\t   ']
  return '\r\n'.join(lines) + '\r\n'


def test_label_langid_tokens_rule():
  lists = {'en': ['the', 'a', 'no'], 'es': ['de', 'a', 'no'], 'de': ['die', 'de']}
  labelled = dict(builders.label_langid_tokens(lists))
  assert labelled == {'die': 0, 'de': 1, 'the': 0, 'a': 1, 'no': 1}


def test_split_indices_deterministic_disjoint_complete():
  first = builders.split_indices(101, (0.8, 0.1, 0.1), seed=3)
  again = builders.split_indices(101, (0.8, 0.1, 0.1), seed=3)
  other = builders.split_indices(101, (0.8, 0.1, 0.1), seed=4)
  assert [len(first[s]) for s in builders.SPLITS] == [81, 10, 10]
  assert all(np.array_equal(first[s], again[s]) for s in builders.SPLITS)
  assert not np.array_equal(first['train'], other['train'])
  assert sorted(np.concatenate(list(first.values()))) == list(range(101))


def test_parsers_count_garbled_and_rule_skips():
  rows = builders.parse_rt_snippets(_rt_fixture(4), neutral_band=0.25)
  assert [label for _, label in rows.examples] == [1, 0, 1, 0]
  assert (rows.skipped_garbled, rows.skipped_by_rule) == (3, 1)
  assert len(builders.parse_rt_snippets(_rt_fixture(4)).examples) == 5  # no band: kept

  rows = builders.parse_polarity_csv('"1","great film"\n"-1","dull\nfilm"\n"0","?"\nbroken\n')
  assert rows.examples == [('great film', 1), ('dull\nfilm', 0)]
  assert rows.skipped_garbled == 2

  tweets = '\n'.join([json.dumps({'text': 'me encanta', 'klass': 'P'}),
                      json.dumps({'text': 'odio esto', 'klass': 'N'}),
                      json.dumps({'text': 'hola', 'klass': 'NEU'}), '{not json',
                      json.dumps({'klass': 'P'})])
  rows = builders.parse_es_tweets(tweets)
  assert rows.examples == [('me encanta', 1), ('odio esto', 0)]
  assert (rows.skipped_garbled, rows.skipped_by_rule) == (2, 1)


def test_rt_snippets_builder_from_manual_file(tmp_path):
  data_dir = str(tmp_path)
  _write_manual(data_dir, 'movieReviewSnippets_GroundTruth.txt', _rt_fixture(40))
  task = registry.get_task('rt_snippets')
  sizes = {s: len(registry.load_split('rt_snippets', s, data_dir)) for s in registry.SPLITS}
  assert sizes == {'train': 32, 'validation': 4, 'test': 4}
  train = registry.load_split('rt_snippets', 'train', data_dir)
  assert all(('good' in t) == (label == 1) for t, label in zip(train.texts, train.labels))
  assert task.skipped(data_dir) == {'skipped_garbled': 3, 'skipped_by_rule': 1}
  all_texts = np.concatenate([registry.load_split('rt_snippets', s, data_dir).texts
                              for s in registry.SPLITS])
  assert len(set(all_texts)) == 40


def test_builders_split_the_same_way_in_every_data_dir(tmp_path):
  texts = []
  for name in ('a', 'b'):
    data_dir = str(tmp_path / name)
    _write_manual(data_dir, 'tweets.json', '\n'.join(
        json.dumps({'text': f'tuit {i}', 'klass': 'PN'[i % 2]}) for i in range(30)))
    texts.append(list(registry.load_split('es_tweets', 'validation', data_dir).texts))
  assert texts[0] == texts[1] and len(texts[0]) == 6


def test_empty_source_is_a_clear_error(tmp_path):
  _write_manual(str(tmp_path), 'polarity-en-pang&lee1.csv', 'garbage\n')
  with pytest.raises(builders.TaskDataError, match='no usable rows.*1 garbled'):
    registry.get_task('polarity_reviews').prepare(str(tmp_path))


def test_corpus_cine_from_manual_xml(tmp_path):
  directory = tmp_path / 'downloads' / 'manual' / 'corpus_cine'
  directory.mkdir(parents=True)
  for i, rank in enumerate([1, 2, 3, 4, 5] * 4):
    body = f'Una película {"buena" if rank > 3 else "mala"} número {i}'
    directory.joinpath(f'{i}.xml').write_bytes(
        f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<review rank="{rank}"><body>{body}'
        f'</body></review>'.encode('latin-1'))
  directory.joinpath('99.xml').write_bytes(b'<review rank="5"><body>cut off')
  splits = {s: registry.load_split('corpus_cine', s, str(tmp_path)) for s in registry.SPLITS}
  assert sum(map(len, splits.values())) == 16
  texts = np.concatenate([s.texts for s in splits.values()])
  assert any('película' in t for t in texts)
  assert registry.get_task('corpus_cine').skipped(str(tmp_path)) == {
      'skipped_garbled': 1, 'skipped_by_rule': 4}


def test_corpus_cine_without_files_says_where_to_put_them(tmp_path):
  (tmp_path / 'downloads' / 'manual').mkdir(parents=True)
  (tmp_path / 'downloads' / 'manual' / 'unrelated').write_text('x')
  with pytest.raises(builders.TaskDataError, match='corpus_cine'):
    registry.get_task('corpus_cine').prepare(str(tmp_path))


def test_unknown_task_lists_known_tasks():
  with pytest.raises(registry.UnknownTaskError, match='rt_snippets.*spanish_langid'):
    registry.get_task('sst-2')


@pytest.mark.parametrize('name,stand_in', [('imdb_reviews', 'polarity_reviews'),
                                           ('sst2', 'rt_snippets')])
def test_online_dataset_fails_fast_offline(tmp_path, offline, network_attempts, name,
                                           stand_in):
  with pytest.raises(online.OfflineError, match=f'cannot be reached.*{stand_in}'):
    registry.load_split(name, 'train', str(tmp_path))
  assert network_attempts == []  # refused before tfds, which would retry for minutes


def test_unreachable_host_is_one_probe_bounded_by_its_timeout(monkeypatch):
  probes = []
  connect = socket.create_connection

  def probe(address, timeout=None, *args, **kwargs):
    probes.append((address, timeout))
    return connect(address, timeout, *args, **kwargs)

  monkeypatch.setattr(socket, 'create_connection', probe)
  assert not online.is_reachable('https://127.0.0.1:9/', timeout=2)  # nothing listens on 9
  assert probes == [(('127.0.0.1', 9), 2)]


def test_user_task_from_gin_bindings_only(tmp_path):
  path = tmp_path / 'reviews.tsv'
  rows = ['review\tstars'] + [f'review {i} {"great" if i % 3 else "poor"}\t{"pos" if i % 3 else "neg"}'
                              for i in range(50)] + ['\tpos', 'no label here\t']
  path.write_text('\n'.join(rows) + '\n')
  gin.parse_config(f"""
      import mnms_tf.data.tasks.registry
      mine/FileTask.name = 'mine'
      mine/FileTask.path = '{path}'
      mine/FileTask.text_column = 'review'
      mine/FileTask.label_column = 'stars'
      mine/FileTask.language = 'fr'
      user_tasks.tasks = [@mine/FileTask()]
  """)
  task = registry.get_task('mine')
  assert (task.num_classes, task.language) == (2, 'fr')
  splits = {s: registry.load_split('mine', s, None) for s in registry.SPLITS}
  assert [len(splits[s]) for s in registry.SPLITS] == [40, 5, 5]
  train = splits['train']
  assert all(('great' in t) == (label == 1) for t, label in zip(train.texts, train.labels))
  assert task.skipped() == {'skipped_garbled': 2, 'skipped_by_rule': 0}
  assert registry.check_task('mine', None) == {
      'train': 40, 'validation': 5, 'test': 5, 'num_classes': 2}


def test_user_task_with_split_column_and_bad_columns(tmp_path):
  path = tmp_path / 'data.csv'
  path.write_text('\ufefftext,label,fold\na,x,train\nb,y,Train\nc,x,validation\nd,y,test\n,x,dev\n',
                  encoding='utf-8')  # a BOM, as spreadsheets write, is not part of the header
  task = registry.FileTask(name='t', path=str(path), text_column='text', label_column='label',
                           split_column='fold')
  assert list(task.load('train').texts) == ['a', 'b']
  assert task.skipped()['skipped_garbled'] == 1  # empty text: skipped before its split is read
  bad = registry.FileTask(name='t', path=str(path), text_column='body', label_column='label')
  with pytest.raises(builders.TaskDataError, match=r"no column\(s\) \['body'\].*header"):
    bad.load('train')


def _bind_file_task(path, **bindings):
  """Declares task 'mine' on `path` (columns text, label) in gin, as a user would."""
  gin.parse_config('\n'.join([
      'import mnms_tf.data.tasks.registry',
      "mine/FileTask.name = 'mine'",
      f"mine/FileTask.path = '{path}'",
      "mine/FileTask.text_column = 'text'",
      "mine/FileTask.label_column = 'label'",
      *(f'mine/FileTask.{key} = {value!r}' for key, value in bindings.items()),
      'user_tasks.tasks = [@mine/FileTask()]']))


def _rows(*labels, fold=None):
  return ''.join(f'text {i},{label}{"," + fold[i] if fold else ""}\n'
                 for i, label in enumerate(labels))


_TWO_CLASSES = _rows(*['pos', 'neg'] * 10)


@pytest.mark.parametrize('content,bindings,message', [
    pytest.param(b'', {}, r'{path} is empty; it needs a header row', id='empty'),
    pytest.param(b'text,label\r\n', {}, r'{path} has a header but no rows', id='header_only'),
    pytest.param(('text,label\n' + _rows(*['pos'] * 20)).encode(), {},
                 r"^Task 'mine': {path} has only one label \('pos'\) in column 'label'; a "
                 r'classifier needs at least 2 classes\.$', id='one_class'),
    pytest.param(b'text,label\nnice,pos\ncaf\xe9,neg\n', {},
                 r'{path} is not UTF-8 \(line 3 has byte 0xe9\); re-save it as UTF-8, or convert '
                 r'it with e\.g\. `iconv -f latin1 -t utf-8 {path} > .*\.utf8\.csv`', id='latin1'),
    pytest.param(('text,label\n' + _TWO_CLASSES).encode(), {'text_column': 'review'},
                 r"{path} has no column\(s\) \['review'\]: its header is \['text', 'label'\]; "
                 r'fix mine/FileTask\.text_column\.$', id='missing_column'),
    pytest.param(('text;label\n' + _TWO_CLASSES).encode(), {},
                 r"its header is \['text;label'\]; fix mine/FileTask\.text_column, "
                 r"mine/FileTask\.label_column or mine/FileTask\.delimiter", id='wrong_delimiter'),
    pytest.param(('text,label\n' + _rows(*['pos', 'neg'] * 2, 'pos')).encode(), {},
                 r'{path} has 5 usable rows, too few for split_fractions \(0\.8, 0\.1, 0\.1\): '
                 r'the validation split gets none; add rows or change mine/FileTask\.split_fractions',
                 id='split_too_small'),
    pytest.param(('text,label,fold\n' + _rows('pos', 'neg', 'pos', fold=['train', 'test', 'test'])
                  ).encode(), {'split_column': 'fold'},
                 r"{path} has no row with 'validation' in column 'fold'", id='split_column_empty'),
    pytest.param(('text,label,fold\n' + _rows('pos', 'neg', 'pos', fold=['train', 'dev', 'test'])
                  ).encode(), {'split_column': 'fold'},
                 r"split values other than train/validation/test in column 'fold': \['dev'\] "
                 r"\(first 'dev' on line 3\); rename them, or remove mine/FileTask\.split_column",
                 id='split_column_unknown'),
    pytest.param(('text,label,fold\n' + _rows('pos', 'pos', 'neg', 'pos', 'neg', fold=[
        'train', 'train', 'validation', 'test', 'test'])).encode(), {'split_column': 'fold'},
                 r"^Task 'mine': its train split \(2 examples of {path}\) has only one label "
                 r"\('pos'\)", id='train_one_class'),
])
def test_check_task_refuses_bad_file_in_one_line(tmp_path, content, bindings, message):
  path = tmp_path / 'data.csv'
  path.write_bytes(content)
  _bind_file_task(path, **bindings)
  with pytest.raises(builders.TaskDataError, match=message.format(path=re.escape(str(path)))) as e:
    registry.check_task('mine', str(tmp_path))
  assert '\n' not in str(e.value) and str(e.value).startswith("Task 'mine': ")


def test_check_task_missing_file_then_fixed_file(tmp_path):
  path = tmp_path / 'later.csv'
  _bind_file_task(path)
  with pytest.raises(builders.TaskDataError,
                     match=f'no file at {re.escape(str(path))}; fix mine/FileTask.path'):
    registry.check_task('mine', str(tmp_path))
  path.write_text('text,label\n' + _TWO_CLASSES)  # refusals are not memoized: read again
  assert registry.check_task('mine', str(tmp_path)) == {
      'train': 16, 'validation': 2, 'test': 2, 'num_classes': 2}


@pytest.mark.slow  # a fresh process: the user's stderr with TF's start-up muted
def test_train_child_refuses_bad_task_before_training(tmp_path):
  path = tmp_path / 'one_class.tsv'
  path.write_text('review\tstars\n' + ''.join(f'review {i}\tpos\n' for i in range(20)))
  gin_file = tmp_path / 'task.gin'
  gin_file.write_text(open(os.path.join(configs.GIN_DIR, 'examples', 'user_task.gin')).read())
  config = {'embedding': 'en-dim128', 'trainable': False, 'nlayers': 0, 'nnodes': 10,
            'learning_rate': 0.1, 'iterations': 100, 'regularization': 0.0}
  process = subprocess.run(
      [sys.executable, '-m', 'mnms_tf.bin.train_child', '--task=my_reviews',
       f'--config_json={json.dumps(config)}', f'--gin_file={gin_file}',
       f"--gin_bindings=my_reviews/FileTask.path = '{path}'", f'--data_dir={tmp_path}'],
      capture_output=True, text=True, timeout=300,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
  assert process.returncode == 1, process.stderr
  assert 'Traceback' not in process.stderr and not process.stdout
  assert process.stderr.strip().splitlines()[-1] == (
      f"train_child: error: Task 'my_reviews': {path} has only one label ('pos') in column "
      f"'stars'; a classifier needs at least 2 classes.")
