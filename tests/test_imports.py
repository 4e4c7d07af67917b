"""Modules that need no TensorFlow do not import it (a fresh interpreter each: the test
process has TensorFlow loaded already)."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize('module', ['mnms_tf.search.store', 'mnms_tf.children.result'])
def test_importing_does_not_import_tensorflow(module):
  script = (f'import sys, {module}\n'
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'keras', 'tensorflow_hub'))\n"
            "assert not loaded, loaded[:5]")
  result = subprocess.run([sys.executable, '-c', script], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
