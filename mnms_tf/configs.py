"""Gin flags shared by the binaries, with errors that say which binding is wrong.

Gin files may include others by a path relative to the repository's gin/ folder.
"""
import os

from absl import flags
import gin

from mnms_tf import errors

GIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'gin')


class GinConfigError(errors.UserError, ValueError):
  pass


def define_gin_flags():
  flags.DEFINE_multi_string('gin_file', [], 'Gin config files (paths, or names under gin/).')
  flags.DEFINE_multi_string('gin_bindings', [], 'Gin bindings, e.g. "user_tasks.tasks = []".')


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


def parse_gin_flags():
  parse(flags.FLAGS.gin_file, flags.FLAGS.gin_bindings)
