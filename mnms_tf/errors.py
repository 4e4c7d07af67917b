"""Errors caused by the user's input or environment, which binaries report without a traceback.

Each concrete error also derives from the matching builtin type, so callers may catch
either.
"""
import sys


class UserError(Exception):
  """Bad input or a missing prerequisite; the message says what to do."""


class ControllerError(UserError, ValueError):
  """A controller setting or call that cannot work (unknown task, bad mode, ...)."""


def one_line(error):
  """The message of `error` without what gin appends ('\\n  In call to configurable ...')."""
  return str(error).split('\n', 1)[0]


def exit_with(binary, error):
  """Ends a binary on a user's mistake: one line on stderr, exit status 1."""
  sys.exit(f'{binary}: error: {one_line(error)}')
