"""The command line: one module per command (sessions, plan, show, apply, parse, lab,
completion) for its flags, flags.py for what they share, helptext.py for what --help says,
logs.py for the -v levels, main.py for parsing and the one-line errors."""

from fleetlogoff.cli.main import main

__all__ = ["main"]
