"""The base of the failures that a rerun cannot fix (the CLI maps them to exit codes)."""

from __future__ import annotations


class NeedsAction(RuntimeError):
    """A failure that running the same command again cannot fix: its one-line message says what
    to do instead (the CLI prints it without the usual "run it again" advice)."""

    exit_code: int = 1
    """What the CLI exits with (its ``EXIT_*`` codes): 1, failed, unless a kind has its own."""


class UsageError(NeedsAction):
    """Options that cannot work together or with this machine (exit code 2, as argparse's)."""

    exit_code = 2
