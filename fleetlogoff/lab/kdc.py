"""A private MIT Kerberos realm for the lab: krb5kdc on 127.0.0.1, owned as a child process.

Everything lives in one temp folder: krb5.conf, kdc.conf, the database, the keytab.
Facts measured on this kind of machine (../shared/reference/kerberos.md): krb5kdc runs
without root or systemd; `-n` keeps it in the foreground so the lab owns its PID;
kadmin.local exits 0 even when a line fails, so its output is checked; krb5.conf needs
`dns_canonicalize_hostname = false` and `rdns = false` or 127.x addresses are
reverse-resolved and the wrong service principal is asked for; every process, children
included, needs KRB5_CONFIG (the packaged /etc/krb5.conf names another realm).

Each simulated host gets HTTP/, host/ and WSMAN/ principals for its address and its name
(HTTP/ for pywinrm and Ansible's winrm, host/ for pypsrp 0.9's default, WSMAN/ for
Ansible's psrp default; Active Directory maps HTTP/ to HOST/, MIT does not). Their keys go
to the realm's one keytab (KRB5_KTNAME): the lab's acceptors run in one process, where
that variable cannot differ per host, so each host checks the ticket's target itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

from fleetlogoff.lab.kdc_tools import (
    KdcError,
    answers,
    die_with_parent,
    free_port,
    missing_tools,
    tool_path,
)

__all__ = ["DEFAULT_REALM", "ENV_NAMES", "KdcError", "KerberosRealm", "missing_tools"]

log = logging.getLogger(__name__)

DEFAULT_REALM = "LAB.TEST"
# Windows (and MIT) accept 5 minutes of clock difference by default (RFC 4120 §1.7,
# krb5.conf clockskew = 300).
CLOCK_SKEW_S = 300
SERVICES = ("HTTP", "host", "WSMAN")
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0
# The variables MIT Kerberos reads; all of them are set for the lab and its children so
# nothing of the machine's own Kerberos setup (or a user's ticket cache) leaks in.
ENV_NAMES = (
    "KRB5_CONFIG",
    "KRB5_KDC_PROFILE",
    "KRB5CCNAME",
    "KRB5_KTNAME",
    "KRB5_CLIENT_KTNAME",
    "KRB5RCACHEDIR",
    "KRB5RCACHETYPE",
)


class KerberosRealm:
    """A running krb5kdc for one realm (a context manager; `stop()` is idempotent).

    Attributes:
        realm: the realm name (upper case).
        directory: the folder holding every file of the realm.
        krb5_conf: the client configuration to point KRB5_CONFIG at.
        port: the KDC's UDP and TCP port on 127.0.0.1.
    """

    def __init__(
        self,
        directory: Path | None = None,
        realm: str = DEFAULT_REALM,
        *,
        clock_offset_s: int = 0,
        client_timesync: bool = True,
    ) -> None:
        """Prepare (not start) a realm.

        Args:
            directory: where its files go; None makes a temp folder removed on stop.
            realm: the realm name.
            clock_offset_s: run the KDC this many seconds off the real clock (krb5kdc -T,
                a testing option). Clients adjust to the KDC's clock (krb5.conf
                kdc_timesync, on by default), so past CLOCK_SKEW_S it is the hosts, on the
                real clock, that refuse their tickets.
            client_timesync: False writes kdc_timesync = 0: a skewed KDC then refuses the
                clients themselves with "Clock skew too great".
        """
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fleetlogoff-kdc-")
            directory = Path(self._tmp.name)
        self.directory = directory
        self.realm = realm.upper()
        self.krb5_conf = directory / "krb5.conf"
        self._kdc_conf = directory / "kdc.conf"
        self.keytab = directory / "default.keytab"
        self._clock_offset_s = clock_offset_s
        self._client_timesync = client_timesync
        self._process: subprocess.Popen[bytes] | None = None
        self._master_password = os.urandom(18).hex()
        self.port = 0

    # ---- environment -------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The KRB5_* variables for any process that uses this realm."""
        return {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self._kdc_conf),
            "KRB5CCNAME": f"FILE:{self.directory / 'ccache'}",
            "KRB5_KTNAME": f"FILE:{self.keytab}",
            "KRB5_CLIENT_KTNAME": f"FILE:{self.directory / 'client.keytab'}",
            "KRB5RCACHEDIR": str(self.directory / "rcache"),
            "KRB5RCACHETYPE": "dfl",
        }

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """`base` (default os.environ) with this realm's KRB5_* variables."""
        merged = dict(os.environ if base is None else base)
        for name in ENV_NAMES:
            merged.pop(name, None)
        merged.update(self.env())
        return merged

    # ---- lifecycle -----------------------------------------------------------------

    def start(self) -> KerberosRealm:
        """Write the configuration, create the database and start krb5kdc.

        Raises:
            KdcError: a tool is missing, the database cannot be made, or the KDC does not
                answer in time.
        """
        try:
            missing = missing_tools()
            if missing:
                raise KdcError(
                    f"MIT Kerberos KDC tools not found ({', '.join(missing)}); "
                    "install krb5-kdc and krb5-admin-server (Debian/Ubuntu)"
                )
            (self.directory / "rcache").mkdir(parents=True, exist_ok=True)
            self.port = free_port()
            self._write_config()
            self._run(["kdb5_util", "create", "-s", "-r", self.realm, "-P", self._master_password])
            self._start_kdc()
        except BaseException:
            self.stop()  # no half-made realm: no KDC, no temp folder left
            raise
        return self

    def stop(self) -> None:
        """Stop krb5kdc (SIGTERM, then SIGKILL) and remove a temp folder; idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def pid(self) -> int | None:
        """The krb5kdc process id while it runs."""
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> KerberosRealm:
        return self.start() if self._process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- principals ----------------------------------------------------------------

    def principal(self, name: str) -> str:
        """`name` with this realm appended unless it already names one."""
        return name if "@" in name else f"{name}@{self.realm}"

    def add_users(self, users: Iterable[tuple[str, str]]) -> None:
        """Create user principals with passwords (a name seen twice keeps its first password).

        Raises:
            KdcError: kadmin.local reported an error.
        """
        seen: set[str] = set()
        lines = []
        for name, password in users:
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            _check_kadmin_word(name)
            lines.append(f'addprinc -pw "{_quote(password)}" {self.principal(name)}')
        self._kadmin(lines)

    def add_hosts(self, hosts: Iterable[tuple[str, str]]) -> list[tuple[str, ...]]:
        """Create hosts' service principals, for each host's address and DNS name, and add
        their keys to the realm's keytab (one kadmin.local run: 1,000 hosts in seconds).

        Args:
            hosts: (address clients connect to, DNS name for a hostname override) pairs.

        Returns:
            Each host's principals, e.g. ("HTTP/127.20.0.1@LAB.TEST", ...), in order.

        Raises:
            KdcError: kadmin.local reported an error.
        """
        lines: list[str] = []
        result: list[tuple[str, ...]] = []
        for address, name in hosts:
            names = tuple(
                self.principal(f"{service}/{target}")
                for target in dict.fromkeys((address, name.lower()))
                for service in SERVICES
            )
            for principal in names:
                _check_kadmin_word(principal)
                lines.append(f"addprinc -randkey {principal}")
            lines.append(f"ktadd -k {self.keytab} -norandkey {' '.join(names)}")
            result.append(names)
        self._kadmin(lines)
        return result

    def kinit(self, user: str, password: str, ccache: Path) -> None:
        """Get a ticket-granting ticket into `ccache` as a user would with kinit.

        Raises:
            KdcError: kinit failed (its message included).
        """
        kinit = shutil.which("kinit") or "kinit"
        env = self.child_env()
        env["KRB5CCNAME"] = f"FILE:{ccache}"
        completed = subprocess.run(
            [kinit, self.principal(user)],
            input=f"{password}\n".encode(),
            capture_output=True,
            env=env,
            timeout=_START_TIMEOUT_S,
            check=False,
        )
        if completed.returncode != 0:
            detail = completed.stderr.decode(errors="replace").strip()
            raise KdcError(f"kinit {user}: {detail}")

    # ---- internals -----------------------------------------------------------------

    def _write_config(self) -> None:
        self.krb5_conf.write_text(self._krb5_conf_text(), encoding="utf-8")
        self._kdc_conf.write_text(self._kdc_conf_text(), encoding="utf-8")
        (self.directory / "kadm5.acl").write_text("", encoding="utf-8")

    def _krb5_conf_text(self) -> str:
        lines = [
            "[libdefaults]",
            f"    default_realm = {self.realm}",
            "    dns_lookup_kdc = false",
            "    dns_lookup_realm = false",
            "    dns_canonicalize_hostname = false",
            "    rdns = false",
            "    forwardable = true",
            f"    clockskew = {CLOCK_SKEW_S}",
            f"    kdc_timesync = {1 if self._client_timesync else 0}",
            "",
            "[realms]",
            f"    {self.realm} = {{",
            f"        kdc = 127.0.0.1:{self.port}",
            "    }",
            "",
            "[domain_realm]",
            f"    .{self.realm.lower()} = {self.realm}",
            f"    {self.realm.lower()} = {self.realm}",
        ]
        return "\n".join(lines) + "\n"

    def _kdc_conf_text(self) -> str:
        d = self.directory
        lines = [
            "[kdcdefaults]",
            f"    kdc_listen = 127.0.0.1:{self.port}",
            f"    kdc_tcp_listen = 127.0.0.1:{self.port}",
            "",
            "[realms]",
            f"    {self.realm} = {{",
            f"        database_name = {d / 'principal'}",
            f"        key_stash_file = {d / 'stash'}",
            f"        acl_file = {d / 'kadm5.acl'}",
            "        max_life = 10h 0m 0s",
            "        max_renewable_life = 1d 0h 0m 0s",
            "    }",
            "",
            # [logging] in one file only (kerberos.md): here, not in krb5.conf.
            "[logging]",
            f"    kdc = FILE:{d / 'kdc.log'}",
            f"    admin_server = FILE:{d / 'kadmin.log'}",
            f"    default = FILE:{d / 'krb5lib.log'}",
        ]
        return "\n".join(lines) + "\n"

    def _start_kdc(self) -> None:
        argv = [tool_path("krb5kdc"), "-n", "-r", self.realm]
        if self._clock_offset_s:
            argv += ["-T", str(self._clock_offset_s)]
        log_path = self.directory / "krb5kdc.out"
        with log_path.open("wb") as out:
            self._process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.child_env(),
                cwd=self.directory,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not answers("127.0.0.1", self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                detail = log_path.read_text(errors="replace").strip().splitlines()
                self.stop()
                raise KdcError(f"krb5kdc did not start: {detail[-1] if detail else 'no output'}")
            time.sleep(0.05)
        log.info("KDC for %s on 127.0.0.1:%d (pid %d)", self.realm, self.port, self.pid)

    def _kadmin(self, lines: list[str]) -> None:
        if not lines:
            return
        completed = self._run(
            ["kadmin.local", "-r", self.realm], stdin="\n".join(lines) + "\nquit\n"
        )
        # kadmin.local exits 0 even when a request fails (kerberos.md): read what it said.
        # A principal that already exists is fine: labs may share a realm (tests), and a
        # domain account has one password, the first one registered.
        errors = [
            line
            for line in completed.splitlines()
            if ("error" in line.lower() or "while " in line.lower())
            and "no policy specified" not in line.lower()
            and "already exists" not in line.lower()
        ]
        if errors:
            raise KdcError(f"kadmin.local: {errors[0].strip()}")

    def _run(self, argv: list[str], stdin: str | None = None) -> str:
        command = [tool_path(argv[0]), *argv[1:]]
        completed = subprocess.run(
            command,
            input=(stdin or "").encode(),
            capture_output=True,
            env=self.child_env(),
            cwd=self.directory,
            timeout=120,
            check=False,
        )
        output = (completed.stdout + completed.stderr).decode(errors="replace")
        if completed.returncode != 0:
            last = output.strip().splitlines()
            raise KdcError(f"{argv[0]} failed: {last[-1] if last else completed.returncode}")
        return output


def _check_kadmin_word(text: str) -> None:
    # kadmin.local splits its input on blanks; a principal with one would be misread.
    if not text or any(ch.isspace() or ch in "\"'\\" for ch in text):
        raise KdcError(f"principal {text!r} contains blanks or quotes")


def _quote(text: str) -> str:
    if any(ch in text for ch in '"\\\n'):
        raise KdcError("a lab password with quotes, backslashes or newlines cannot be set")
    return text
