"""The command line: one module per command (plan, apply, sessions, parse, lab) for its
flags, flags.py for what they share, main.py for parsing and the one-line errors."""

from fleetlogoff.cli.main import main

__all__ = ["main"]
