"""The README's layout matches the package: every module it names exists, and every module
of mnms_tf/ (but the __init__.py files) is named there."""
import glob
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULE = re.compile(r'(?<![\w/.-])mnms_tf/(?:[\w]+/)*\w+\.py\b')


def _layout_block():
  """The text of the first fenced code block under the README's `## Layout` heading."""
  with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as f:
    lines = f.read().splitlines()
  assert '## Layout' in lines, 'README.md has no "## Layout" heading'
  start = lines.index('## Layout') + 1
  block, inside = [], False
  for line in lines[start:]:
    if not inside and line.startswith('## '):
      break  # the next section: no code block under Layout
    if line.lstrip().startswith('```'):
      if inside:
        return '\n'.join(block)
      inside = True
    elif inside:
      block.append(line)
  raise AssertionError('no fenced code block (closed) under "## Layout" in README.md')


def _modules():
  paths = glob.glob(os.path.join(REPO, 'mnms_tf', '**', '*.py'), recursive=True)
  return {os.path.relpath(p, REPO).replace(os.sep, '/') for p in paths
          if os.path.basename(p) != '__init__.py'}


def test_every_module_the_layout_names_exists():
  named = set(MODULE.findall(_layout_block()))
  assert named, 'the layout names no module by its full path (e.g. mnms_tf/search/runner.py)'
  missing = sorted(p for p in named if not os.path.isfile(os.path.join(REPO, p)))
  assert not missing, f'README.md layout names modules that do not exist: {missing}'


def test_every_module_is_in_the_layout():
  named = set(MODULE.findall(_layout_block()))
  unnamed = sorted(_modules() - named)
  assert not unnamed, f'modules missing from the README.md layout: {unnamed}'
