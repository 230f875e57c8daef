"""What `--help` says: the tool, each command, an example per command, and what each -v
level adds. Kept in one place so the help reads as one text."""

from __future__ import annotations

TOOL = """\
Log users off Windows Remote Desktop (RDS) hosts across a fleet, over WinRM.

fleetlogoff reads every host's sessions (quser) from an Ansible inventory, shows a plan of
what it would log off and why, and applies it: it warns the users, waits, checks that
each session is still the one planned, logs it off and confirms it is gone, writing an
audit log as it goes. Nothing is logged off that the plan did not show."""

VERBOSITY = """\
verbosity (-v may come before or after the command; -vv = -v -v):
  -v      every session in plans and recaps, a line per session during apply, retries
  -vv     + every command run on a host and its raw output
  -vvv    + connection details (addresses, authentication steps, shells)
  -vvvv   + WinRM wire traffic (authentication tokens redacted)
  --debug tracebacks on internal errors, with the logs of -vvv

environment: NO_COLOR (no colours, nothing else changes), COLUMNS (terminal width),
  FLEETLOGOFF_USERNAME / FLEETLOGOFF_PASSWORD (credentials the inventory does not give)
exit codes and everything else: README.md"""

TOOL_EPILOG = f"""\
examples:
  fleetlogoff sessions inventory.yml
  fleetlogoff plan inventory.yml --state disconnected --idle ">= 2h" -o plan.json
  fleetlogoff show plan.json
  fleetlogoff apply plan.json --warn 10m --remind 2m
  fleetlogoff completion bash > ~/.local/share/bash-completion/completions/fleetlogoff

{VERBOSITY}

Run `fleetlogoff COMMAND --help` for a command's flags."""

COMMANDS: dict[str, tuple[str, str]] = {
    "plan": (
        "Read every host's sessions and show what would be logged off and why, like\n"
        "`terraform plan`: the sessions to log off (one line each, by host), the hosts that\n"
        "could not be read, what stays counted by reason, and a summary. Nothing is changed.\n"
        "Save it with -o (or -out) and give the file to `apply`.",
        "examples:\n"
        '  fleetlogoff plan inventory.yml --state disconnected --idle ">= 2h"\n'
        "  fleetlogoff plan inventory.yml --rules rules.yml -l rds-eu -o plan.json\n"
        "  fleetlogoff plan inventory.yml --format csv --bom > plan.csv",
    ),
    "apply": (
        "Carry out a plan: warn the users, wait, check each session is still the planned\n"
        "one, log it off and confirm it is gone. Given a saved plan it acts on exactly that\n"
        "plan (refused if stale or if its inputs changed); given an inventory it plans first\n"
        "and asks. Every act is written to the audit log before it happens.",
        "examples:\n"
        "  fleetlogoff apply plan.json --warn 10m --remind 2m\n"
        '  fleetlogoff apply inventory.yml --state disconnected --idle ">= 8h" --warn 5m --yes\n'
        "  fleetlogoff apply plan.json --yes --format json > events.jsonl",
    ),
    "show": (
        "Print a saved plan the way `plan` printed it, without reading any host.",
        "examples:\n"
        "  fleetlogoff show plan.json\n"
        "  fleetlogoff show plan.json --all\n"
        "  fleetlogoff show plan.json --format csv > plan.csv",
    ),
    "logoff": (
        "Log off one session (by id or name) or a user's sessions, the way logoff.exe does\n"
        "(LOGOFF [sessionname | sessionid | user] /SERVER:name [/V]), on a host of the\n"
        "inventory or a pattern of them, through apply's own path: shown, confirmed,\n"
        "optionally warned, checked on the host, audited.",
        "examples:\n"
        "  fleetlogoff logoff 12 --server rds-07 -i inventory.yml\n"
        "  fleetlogoff logoff rdp-tcp#5 /server:rds-07 -i inventory.yml /v\n"
        "  fleetlogoff logoff jdoe --server 'rds-*' -i inventory.yml --warn 5m",
    ),
    "sessions": (
        "Every host's sessions in one table: the fleet-wide quser. Nothing is judged or\nchanged.",
        "examples:\n"
        "  fleetlogoff sessions inventory.yml -l rds01\n"
        "  fleetlogoff sessions inventory.yml --format csv --bom > sessions.csv",
    ),
    "parse": (
        "Read a saved quser or qwinsta output (from a file or stdin) and print its sessions\n"
        "as JSON: the way to check an odd host's output without connecting to it.",
        "examples:\n"
        "  fleetlogoff parse quser saved-quser.txt\n"
        "  fleetlogoff parse qwinsta - --codepage 850 < qwinsta.txt",
    ),
    "lab": (
        "Run a simulated RDS fleet on loopback addresses: hosts that speak real WinRM, with\n"
        "the quser, msg and logoff of real Windows, for trying fleetlogoff safely.",
        "examples:\n"
        "  fleetlogoff lab --hosts 50 --inventory-out lab.yml\n"
        "  fleetlogoff lab --hosts 300 --inventory-out lab.yml --scenario latency.yml",
    ),
    "demo": (
        "Plan and apply against an embedded lab fleet, end to end, in a temporary folder.",
        "example:\n  fleetlogoff demo --hosts 20",
    ),
    "completion": (
        "Print a shell completion script, generated from fleetlogoff's own flags.",
        "examples:\n"
        "  fleetlogoff completion bash > ~/.local/share/bash-completion/completions/fleetlogoff\n"
        '  eval "$(fleetlogoff completion bash)"     # this shell only\n'
        '  fleetlogoff completion zsh > "${fpath[1]}/_fleetlogoff"',
    ),
}
