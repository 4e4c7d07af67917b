"""Errors caused by the user's input or environment, which binaries report without a traceback.

Each concrete error also derives from the matching builtin type, so callers may catch
either.
"""


class UserError(Exception):
  """Bad input or a missing prerequisite; the message says what to do."""
