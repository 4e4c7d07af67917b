"""The flags several binaries share are defined once: every binary loads into one process,
and `--data_dir` resolves the same way everywhere."""
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver

from mnms_tf import cli
from mnms_tf import paths


def _fresh_python(script):
  """The last line `script` prints in a fresh interpreter (what it imports is the point)."""
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  return result.stdout.strip().splitlines()[-1]


def test_every_binary_loads_into_one_process():
  script = ('import pkgutil, importlib, mnms_tf.bin as b\n'
            'names = [m.name for m in pkgutil.iter_modules(b.__path__)]\n'
            'for n in names: importlib.import_module("mnms_tf.bin." + n)\n'
            'print(len(names))')
  assert int(_fresh_python(script)) >= 8


def test_a_shared_flag_is_one_flag_and_the_data_dir_resolves_once(tmp_path, monkeypatch):
  first, again = cli.define_data_dir(), cli.define_data_dir()
  workers, more_workers = cli.define_workers(3), cli.define_workers(5)
  monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / 'env'))
  with flagsaver.flagsaver():
    flags.FLAGS(['prog'])
    assert first.value is None and again.value is None
    assert workers.value == more_workers.value
    assert cli.data_dir() == str(tmp_path / 'env')
    flags.FLAGS(['prog', f'--data_dir={tmp_path}/given/../flag'])
    assert cli.data_dir() == str(tmp_path / 'flag')


def test_the_checkpoint_protocol_and_the_value_network_import_no_controller():
  script = ('import sys\n'
            'import mnms_tf.search.checkpoints, mnms_tf.search.run_dir, '
            'mnms_tf.transfer.value_network\n'
            'print(sorted(m for m in sys.modules if m.startswith("mnms_tf.controllers.") '
            'and m != "mnms_tf.controllers.losses"))')
  assert _fresh_python(script) == '[]'
