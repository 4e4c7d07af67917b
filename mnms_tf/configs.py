"""Gin config files and parsing, with errors that say which binding is wrong.

Gin files may include others by a path relative to the package's gin/ folder (mnms_tf/gin).
"""
import os

import gin

from mnms_tf import errors

GIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gin')  # ships with the package


class GinConfigError(errors.UserError, ValueError):
  pass


def _find(path):
  for candidate in (path, os.path.join(GIN_DIR, path)):
    if os.path.exists(candidate):
      return candidate
  raise GinConfigError(f'Gin file {path!r} not found (also looked in {GIN_DIR})')


def parse(gin_files=(), gin_bindings=()):
  gin.add_config_file_search_path(GIN_DIR)
  files = [_find(p) for p in gin_files]
  try:
    gin.parse_config_files_and_bindings(files, gin_bindings)
  except Exception as e:  # gin raises many types (ValueError, SyntaxError, TokenError, ...)
    raise GinConfigError(f'Bad gin config (files {files}, bindings {list(gin_bindings)}): '
                         f'{e}') from e


# Bindings whose order means something, which gin's config strings sort (they pretty-print
# dicts with sorted keys): the search space's parameter order is the controller's action
# order (children/space.py).
ORDERED_BINDINGS = ('SearchSpace.choices',)


def config_str(operative=False):
  """gin's config string (or operative one), with `ORDERED_BINDINGS` restated in their own
  order, so that parsed again (on a worker, a Ray node, from a run's config.gin) it
  configures the same search."""
  text = gin.operative_config_str() if operative else gin.config_str()
  for name in ORDERED_BINDINGS:
    try:
      value = gin.query_parameter(name)
    except ValueError:  # not bound
      continue
    if not operative or name.split('.')[0] in text:
      text += f'\n# {name} in its own order (sorted above)\n{name} = {value!r}\n'
  return text
