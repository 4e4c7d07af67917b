"""Fail fast when something online is asked for on a machine without internet.

tfds and tensorflow_hub retry for minutes before giving up; a 3-second TCP probe of the
host tells the user at once what to do instead.
"""
import os
import socket
import urllib.parse

from mnms_tf import errors

OFFLINE_ENV = 'MNMS_OFFLINE'  # set to 1 to skip the probe and treat the network as absent


class OfflineError(errors.UserError, RuntimeError):
  """Something needs the internet and the machine has none."""


def is_reachable(url, timeout=3.0):
  if os.environ.get(OFFLINE_ENV, '') not in ('', '0'):
    return False
  parsed = urllib.parse.urlparse(url)
  port = parsed.port or (80 if parsed.scheme == 'http' else 443)
  try:
    with socket.create_connection((parsed.hostname, port), timeout=timeout):
      return True
  except OSError:
    return False


def require_reachable(url, what, fix):
  """Raises OfflineError naming `what` and the `fix` when `url`'s host is unreachable."""
  if not is_reachable(url):
    host = urllib.parse.urlparse(url).hostname
    raise OfflineError(f'{what} needs {host}, which cannot be reached from this machine. {fix}')
