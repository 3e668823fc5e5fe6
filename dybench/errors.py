"""The one error type for problems a user can fix: bad input, a missing file, a busy folder.

Every command of the CLI catches `UserError` in one place and prints its message (which names the file,
the item and the fix) without a traceback. Anything else that escapes is a bug in dybench.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A problem with the user's input or environment; the message says what, where, and how to fix it."""
