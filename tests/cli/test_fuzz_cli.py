"""Every input through the real command line (issue 7.7): random flags and values, YAML and
INI inventories, rules files, plan files, --limit patterns and @files, vault passwords,
saved quser/qwinsta outputs for `parse`, and what hosts print, all driven through
`main(argv, env)` as a user would type them.

Whatever comes in: the run ends (no hang), with an exit code from the README's table, no
traceback and no "internal error", at most one error line on stderr (exactly one, and
last, for exit 64), nothing on any stream that acts on a terminal, and no planted secret
(inventory, vault, environment or prompt password) in any output or any file the run
wrote. Where the answer is certain (a flag value argparse must refuse, an unknown
command, an intact corpus listing for `parse`) the exact code is checked too.

Hosts are a fake connector: nothing leaves the process and no host name is resolved. It
answers reads with the drawn host output and refuses everything else (msg, the guarded
logoff) without a transient error, so nobody is ever warned and apply never waits.
`--wait-for-window` is left out for the same reason: waiting hours for a window is what
it is for. Bounded: a few hundred examples in all, no deadline, no example database.
"""

from __future__ import annotations

import io
import json
import os
import random
import tempfile
import threading
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetlogoff.app.status import ExitStatus
from fleetlogoff.cli import main
from fleetlogoff.env import Environment
from fleetlogoff.errors import TransportError
from fleetlogoff.inventory.vault import encrypt
from fleetlogoff.model import Host
from fleetlogoff.plan_file import plan_document
from fleetlogoff.transport import CommandOutput, HostSession
from tests.cliutil import CLOCK
from tests.unit.test_fuzz_inputs import INI_PIECES, RULE_PIECES, SECRET, YAML_PIECES, lines
from tests.unit.test_parse_damage import DAMAGE, LISTINGS, intact
from tests.unit.test_plan_file import PLAN
from tests.unit.test_plan_fuzz import mutated_documents

VAULT_PASSWORD = "Vlt-fuzz-Pass-42"  # planted: must never appear in any output
DOCUMENTED = {0, 1, 2, 3, 4, 64}  # the README's table; 130 needs an interrupt, never sent
HANG_S = 120.0  # a run that has not ended by then is a hang (generous: the machine is shared)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # no replay of examples saved under another version of a strategy
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_VAULTED_SECRET = encrypt(SECRET.encode(), VAULT_PASSWORD.encode()).replace("\n", "\n" + " " * 12)
VALID_INVENTORY = f"""all:
  vars:
    ansible_user: fuzzer
    ansible_password: {SECRET}
  children:
    rds:
      hosts:
        rds01:
        rds02:
        "rds[03:05]":
"""
VAULTED_INVENTORY = f"""all:
  vars:
    ansible_user: fuzzer
  children:
    rds:
      hosts:
        rds01:
        rds02:
          ansible_password: !vault |
            {_VAULTED_SECRET}
      vars:
        ansible_password: !vault |
          {_VAULTED_SECRET.replace(chr(10) + "  ", chr(10))}
"""
VALID_INI = f"[rds]\nrds01\nrds[02:04] ansible_port=5986\n[rds:vars]\nansible_password={SECRET}\n"
VALID_RULES = "rules:\n  - name: stale\n    states: [disc]\n    idle: '>= 2h'\n"
# A plan made "now" (the tests' clock) for an inventory that is not the one on disk.
FRESH_PLAN = {**plan_document(PLAN), "created": (CLOCK.now() - timedelta(minutes=5)).isoformat()}

# Values by kind: mostly what a user would type (so runs get past the flags into reading,
# planning and acting), some that must be refused. {dir} is the example's own folder.
GOOD: dict[str, list[str]] = {
    "inventory": ["{dir}/valid.yml"] * 3
    + ["{dir}/vaulted.yml"] * 2
    + ["{dir}/valid.ini", "{dir}/inv.yml", "rds01,rds02,"]
    + ["{dir}/hosts.ini", "{dir}/link-to-inv.yml", "{dir}/missing.yml", "{dir}/fifo", "{dir}"],
    "plan": ["{dir}/plan.json"] * 3
    + ["{dir}/fresh-plan.json"] * 2
    + ["{dir}/missing.json"]
    + ["{dir}/fifo", "{dir}/valid.yml"],
    "rules": ["{dir}/valid-rules.yml", "{dir}/rules.yml", "{dir}/missing.yml", "{dir}"],
    "output": ["{dir}/out.json", "{dir}/no-folder/out.json", "{dir}", "{dir}/fifo"],
    "input": ["{dir}/output.txt", "{dir}/missing.txt", "{dir}/fifo", "{dir}"],
    "pattern": ["rds01", "rds*", "all", "rds", "!rds01", "rds:&all", "~rds0[12]", "rds01,rds02"]
    + ["@{dir}/limit.txt", "", " ", ",", "rds]", "no-such-host", "@{dir}/missing.txt"],
    "count": ["1", "3", "50", "200"],
    "limit": ["0", "1", "3"],
    "duration": ["30s", "5m", "1s", "2h", "1h30m", "10s"],
    "wait": ["0", "0s", "30s", "5m"],
    "percent": ["0", "10", "50%", "100"],
    "serial": ["1", "2", "50%"],
    "format": ["table", "json", "csv"],
    "state": ["disc", "disconnected", "active", "listen", "DISC"],
    "idle": [">= 2h", "> 30m", "<= 1d", ">=0s"],
    "glob": ["*", "stale.*", "u?er", "[a-z]*", "rdp-tcp#*", "none"],
    "text": ["{user} on {host}: {time_left}", "Bye {user}", "é\u202eevil\x1b[2J", "x" * 300],
    "vault": ["{dir}/vault-pass", "lab@{dir}/vault-pass", "prompt", "{dir}/missing"],
    "order": ["auto", "mdy", "dmy", "ymd"],
    "codepage": ["437", "850", "65001", "936", "1", "-5", "99999999"],
}
# What argparse must refuse for each kind it types (exit 64 whatever else the line holds).
REFUSED: dict[str, list[str]] = {
    "count": ["0", "-1", "x", "1.5", "\u0664", "99999999999999999999x"],
    "limit": ["-1", "x"],
    "duration": ["30", "-1s", "x", "5 parsecs", "\u0663s"],
    "wait": ["5", "-5m", "soon"],
    "percent": ["150", "-1", "x%"],
    "serial": ["0", "x", "-5%"],
    "format": ["xml", "yaml", ""],
    "order": ["ydm", ""],
    "codepage": ["x", "1.5"],
}
KIND: dict[str, str] = {
    "-i": "inventory",
    "--inventory": "inventory",
    "-l": "pattern",
    "--limit": "pattern",
    "-f": "count",
    "--forks": "count",
    "--timeout": "duration",
    "--processes": "count",
    "--auth-failure-limit": "limit",
    "--vault-id": "vault",
    "--vault-password-file": "vault",
    "--rules": "rules",
    "--user": "glob",
    "--state": "state",
    "--idle": "idle",
    "--session": "glob",
    "-o": "output",
    "-out": "output",
    "--format": "format",
    "--warn": "wait",
    "--message": "text",
    "--remind": "duration",
    "--serial": "serial",
    "--max-fail-percentage": "percent",
    "--window-margin": "wait",
    "--max-plan-age": "duration",
    "--audit-log": "output",
    "--report": "output",
    "--server": "pattern",
    "--force": "text",
    "--date-order": "order",
    "--international": "input",
    "--codepage": "codepage",
}
FLEET = ["-i", "-l", "-f", "--timeout", "--processes", "--auth-failure-limit", "--vault-id"]
FLEET += ["--vault-password-file"]
SELECT = ["--rules", "--user", "--state", "--idle", "--session"]
FLAGS: dict[str, list[str]] = {
    "sessions": [*FLEET, "--format"],
    "plan": [*FLEET, *SELECT, "-o", "-out", "--format"],
    "show": ["--format"],
    "apply": [*FLEET, *SELECT, "--warn", "--message", "--remind", "--serial", "--report"]
    + ["--max-fail-percentage", "--window-margin", "--max-plan-age", "--audit-log"],
    "logoff": ["--server", "-i", "--warn", "--message", "--force", "--audit-log", "--report"]
    + ["-f", "--timeout", "--vault-id", "--vault-password-file"],
    "parse": ["--date-order", "--international", "--codepage"],
    "completion": [],
}
SWITCHES: dict[str, list[str]] = {
    "sessions": ["-k", "-q", "-J", "-v", "-vv", "-vvvv", "--debug", "--bom"],
    "plan": ["-k", "-q", "-J", "-v", "-vvv", "--debug", "--bom", "--all", "--detailed-exitcode"],
    "show": ["-v", "--debug", "--bom", "--all", "--detailed-exitcode"],
    "apply": ["-k", "-q", "-J", "-v", "-vv", "--debug", "--check", "--detailed-exitcode"]
    + ["--ignore-windows", "--no-cancel-notice", "--yes", "-y"],
    "logoff": ["-v", "/v", "/V", "-y", "--yes", "-k", "-q", "--debug"],
    "parse": ["-v", "--debug"],
    "completion": ["--debug"],
}
# Anything at all, now and then: a flag of another command, Windows' syntax, a stray word.
NOISE = ["--bogus", "--lim", "-out=x", "/VM", "/server:", "--", "-", "-x", "--check", "é"]
COMMANDS = ["plan"] * 3 + ["apply"] * 3 + ["sessions", "show", "logoff", "logoff", "parse"]
COMMANDS += ["completion", "lab-typo", ""]


@dataclass
class Case:
    """One command line and everything it reads."""

    argv: list[str]
    files: dict[str, bytes]
    host_output: bytes
    stdin: str = ""
    environ: dict[str, str] = field(default_factory=dict)
    expected: int | None = None  # the exit code when it is certain


@st.composite
def host_outputs(draw: st.DrawFn) -> str:
    """What a host prints: a real listing, damaged the ways real outputs get damaged, or
    any text."""
    name = draw(st.sampled_from(LISTINGS))
    text = intact(name)
    kind = draw(st.sampled_from([None, *sorted(DAMAGE)]))
    if kind is not None:
        text = DAMAGE[kind](text, random.Random(draw(st.integers(0, 2**16))))
    return draw(st.sampled_from([text, text.replace("\n", "\r\n")]) | st.text(max_size=300))


@st.composite
def files(draw: st.DrawFn) -> dict[str, bytes]:
    plan = draw(
        mutated_documents().map(lambda d: json.dumps(d).encode())
        | st.binary(max_size=200)
        | st.just(json.dumps(FRESH_PLAN).encode())
    )
    return {
        "inv.yml": draw(lines(YAML_PIECES)).encode(),
        "hosts.ini": draw(lines(INI_PIECES)).encode(),
        "valid.yml": VALID_INVENTORY.encode(),
        "vaulted.yml": VAULTED_INVENTORY.encode(),
        "valid.ini": VALID_INI.encode(),
        "rules.yml": draw(lines(RULE_PIECES)).encode(),
        "valid-rules.yml": VALID_RULES.encode(),
        "plan.json": plan,
        "fresh-plan.json": json.dumps(FRESH_PLAN).encode(),
        "limit.txt": "\n".join(
            draw(st.lists(st.sampled_from(GOOD["pattern"]), max_size=3))
        ).encode(),
        "vault-pass": VAULT_PASSWORD.encode() + b"\n",
        "output.txt": draw(host_outputs()).encode("utf-8", "surrogatepass"),
    }


def _value(draw: st.DrawFn, kind: str) -> str:
    return draw(st.sampled_from(GOOD[kind]))


def _positionals(draw: st.DrawFn, command: str) -> list[str]:
    if command in ("sessions", "plan"):
        return [_value(draw, "inventory")] if draw(st.booleans()) else []
    if command == "apply":
        return [_value(draw, draw(st.sampled_from(["inventory", "plan"])))]
    if command == "show":
        return [_value(draw, "plan")]
    if command == "logoff":
        selector = draw(st.sampled_from(["2", "rdp-tcp#3", "stale.user", "0", "1", "65536"]))
        server = draw(st.sampled_from([["--server", "rds01"], ["/SERVER:rds*"], ["/server:all"]]))
        return [selector, *server]
    if command == "parse":
        return [draw(st.sampled_from(["quser", "qwinsta"])), _value(draw, "input")]
    if command == "completion":
        return [draw(st.sampled_from(["bash", "zsh"]))]
    return []


@st.composite
def command_lines(draw: st.DrawFn) -> Case:
    command = draw(st.sampled_from(COMMANDS))
    argv = ([command] if command else []) + _positionals(draw, command)
    if command == "apply":
        argv += ["--audit-log", "{dir}/audit.jsonl"]  # the default is the tests' state dir
    for _ in range(draw(st.integers(0, 6))):
        choice = draw(st.integers(0, 14))
        if choice == 0:
            argv.append(draw(st.sampled_from(NOISE) | st.text(max_size=6)))
        elif choice <= 4 and SWITCHES.get(command):
            argv.append(draw(st.sampled_from(SWITCHES[command])))
        elif FLAGS.get(command):
            flag = draw(st.sampled_from(FLAGS[command]))
            argv += [flag, _value(draw, KIND[flag])]
    expected = ExitStatus.USAGE if command == "lab-typo" else None
    typed = [f for f in FLAGS.get(command, []) if KIND[f] in REFUSED]
    if typed and draw(st.integers(0, 7)) == 0:
        flag = draw(st.sampled_from(typed))
        argv[1:1] = [flag, draw(st.sampled_from(REFUSED[KIND[flag]]))]
        expected = ExitStatus.USAGE
    environ = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "FLEETLOGOFF_USERNAME": st.just("fuzzer"),
                "FLEETLOGOFF_PASSWORD": st.just(SECRET),
                "ANSIBLE_VAULT_PASSWORD_FILE": st.just("{dir}/vault-pass"),
                "NO_COLOR": st.just("1"),
                "COLUMNS": st.sampled_from(["40", "0", "x", "100000", "\u00b2"]),
                "TERM": st.just("dumb"),
            },
        )
    )
    output = draw(host_outputs()).encode("utf-8", "surrogatepass")
    return Case(argv, draw(files()), output, environ=environ, expected=expected)


class _FuzzSession:
    def __init__(self, output: bytes) -> None:
        self._output = output

    def run(
        self, command_line: str, *, stdin: bytes | None = None, timeout: float
    ) -> CommandOutput:
        if command_line.startswith(("quser", "qwinsta", "reg ")):
            return CommandOutput(self._output, b"", 0)
        # msg and the guarded logoff: refused, and not a transient error (no retry pause).
        raise TransportError("fuzz", "access_denied", "the fuzz host acts on nothing")

    def close(self) -> None:
        pass


class FuzzConnector:
    """Hosts that print `output` when read; about one in four is unreachable."""

    def __init__(self, output: bytes) -> None:
        self._output = output

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        if zlib.crc32(host.name.encode("utf-8", "surrogatepass")) % 4 == 0:
            raise TransportError(host.name, "unreachable", "connection refused (fuzz)")
        return _FuzzSession(self._output)


@dataclass
class Outcome:
    status: ExitStatus
    stdout: str
    stderr: str
    written: dict[str, bytes]


def _place(text: str, folder: Path) -> str:
    return text.replace("{dir}", str(folder))


def run_case(case: Case) -> Outcome:
    """Run the case's command line in its own folder, on a thread (to see a hang)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-cli-") as name:
        folder = Path(name)
        for file_name, data in case.files.items():
            (folder / file_name).write_bytes(data)
        os.mkfifo(folder / "fifo")
        (folder / "link-to-inv.yml").symlink_to(folder / "inv.yml")
        out, err = io.StringIO(), io.StringIO()
        env = Environment(
            stdin=io.StringIO(
                _place(case.stdin, folder) or case.host_output.decode("utf-8", "replace")
            ),
            stdout=out,
            stderr=err,
            stdin_isatty=False,
            stdout_isatty=False,
            stderr_isatty=False,
            environ={
                "HOME": str(folder / "home"),
                "XDG_STATE_HOME": str(folder / "state"),
                **{k: _place(v, folder) for k, v in case.environ.items()},
            },
            clock=CLOCK.now,
            ask_password=lambda prompt: VAULT_PASSWORD if "vault" in prompt.lower() else SECRET,
        )
        argv = [_place(word, folder) for word in case.argv]
        statuses: list[ExitStatus] = []
        runner = threading.Thread(
            target=lambda: statuses.append(main(argv, env, FuzzConnector(case.host_output))),
            daemon=True,
        )
        runner.start()
        runner.join(HANG_S)
        assert not runner.is_alive(), f"hang: {argv}"
        written = {
            str(path.relative_to(folder)): path.read_bytes()
            for path in folder.rglob("*")
            if path.is_file() and not path.is_symlink() and path.name not in case.files
        }
    return Outcome(statuses[0], out.getvalue(), err.getvalue(), written)


def _acts_on_a_terminal(text: str) -> list[str]:
    """Characters that would act on a terminal: controls but the line ends, format and
    separator characters (a CSV's CRLF and --bom's leading BOM are what they must be)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    hidden = ("Cc", "Cf", "Cs", "Zl", "Zp")
    return [c for c in text if c != "\n" and unicodedata.category(c) in hidden]


def check(case: Case, outcome: Outcome) -> None:
    described = f"argv={case.argv!r}\nstdout={outcome.stdout!r}\nstderr={outcome.stderr!r}"
    assert outcome.status in DOCUMENTED, described
    if case.expected is not None:
        assert outcome.status == case.expected, described
    for text in (outcome.stdout, outcome.stderr):
        assert "Traceback" not in text and "fleetlogoff: internal error" not in text, described
        assert SECRET not in text and VAULT_PASSWORD not in text, described
        assert not _acts_on_a_terminal(text), described
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("fleetlogoff: error")]
    assert len(errors) <= 1, described
    if outcome.status == ExitStatus.USAGE:
        assert errors and outcome.stderr.splitlines()[-1] == errors[0], described
    if outcome.status == ExitStatus.REFUSED:
        assert "refused" in outcome.stderr and not errors, described
    if errors:
        assert outcome.status in (ExitStatus.ERROR, ExitStatus.USAGE), described
    for name, data in outcome.written.items():
        assert SECRET.encode() not in data, f"{name} holds the password; {described}"
        assert VAULT_PASSWORD.encode() not in data, f"{name} holds the vault password"


@FUZZ
@given(command_lines())
def test_any_command_line_ends_with_a_documented_code_and_no_secret(case: Case) -> None:
    check(case, run_case(case))


PARSE_FUZZ = settings(FUZZ, max_examples=100)


@PARSE_FUZZ
@given(st.sampled_from(LISTINGS), st.sampled_from([None, *sorted(DAMAGE)]), st.integers(0, 2**16))
def test_parse_reads_a_saved_output_or_says_why_in_one_line(
    name: str, damage: str | None, seed: int
) -> None:
    text = intact(name)
    if damage is not None:
        text = DAMAGE[damage](text, random.Random(seed))
    kind = "quser" if name.startswith("quser") else "qwinsta"
    for argv in (["parse", kind, "{dir}/output.txt"], ["parse", kind, "-"]):
        case = Case(
            argv,
            {"output.txt": text.encode()},
            b"",
            stdin=text,
            expected=ExitStatus.OK if damage is None else None,
        )
        outcome = run_case(case)
        check(case, outcome)
        assert outcome.status in (ExitStatus.OK, ExitStatus.USAGE, ExitStatus.ERROR)
