"""A non-editable install carries what the binaries read at run time: the gin files."""
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from mnms_tf import configs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_gin_files_are_found_in_the_package():
  assert os.path.dirname(configs.GIN_DIR) == os.path.dirname(os.path.abspath(configs.__file__))
  assert configs._find('search/multitask.gin').startswith(configs.GIN_DIR)  # pylint: disable=protected-access


@pytest.mark.slow
def test_the_wheel_ships_every_gin_file(tmp_path):
  source = tmp_path / 'source'  # a copy: setuptools builds in the source tree
  shutil.copytree(os.path.join(REPO, 'mnms_tf'), source / 'mnms_tf',
                  ignore=shutil.ignore_patterns('__pycache__'))
  shutil.copy(os.path.join(REPO, 'pyproject.toml'), source)
  result = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                           '--no-build-isolation', '-q', '-w', str(tmp_path), str(source)],
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]
  wheel, = [f for f in os.listdir(tmp_path) if f.endswith('.whl')]
  with zipfile.ZipFile(tmp_path / wheel) as archive:
    shipped = {n for n in archive.namelist() if n.endswith('.gin')}
  wanted = {os.path.relpath(os.path.join(d, f), REPO)
            for d, _, files in os.walk(configs.GIN_DIR) for f in files if f.endswith('.gin')}
  assert wanted and shipped == wanted


def test_importing_the_package_keeps_absls_logger_naming_the_calling_file():
  """The package adds filters to absl's logger without importing TensorFlow; made by
  `logging.getLogger` first, that logger named absl's own file in every line."""
  script = ('import mnms_tf, sys\n'
            'from absl import logging\n'
            'print(type(logging.get_absl_logger()).__name__, "tensorflow" in sys.modules)')
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          timeout=300)
  assert result.stdout.split() == ['ABSLLogger', 'False'], result.stderr[-2000:]
