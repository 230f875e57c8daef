"""Use cases behind the CLI, one module per command (plan, apply, sessions, parse) and what
they share (fleet: inventory, selection, reading). The CLI only parses flags."""
