"""Value types shared by every layer: sessions as Windows reports them, hosts as the inventory
describes them. Frozen and slotted: these travel between threads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

DoubtField = Literal["row", "user", "session_name", "id", "state", "idle", "logon"]
"""Which field of a row a doubt is about ("row": the row as a whole)."""

# A doubt on any of these may hide who or what the session is: such a row is never acted
# on. A doubt on idle or logon time only keeps the row out of rules that read that field.
IDENTITY_FIELDS: frozenset[DoubtField] = frozenset({"row", "user", "session_name", "id", "state"})


@dataclass(frozen=True, slots=True)
class Doubt:
    """Why one field of a row cannot be read with certainty.

    Attributes:
        field: the field the doubt is about.
        reason: a human sentence naming what the host printed.
    """

    field: DoubtField
    reason: str

    def __str__(self) -> str:
        return self.reason


class SessionState(StrEnum):
    """WTS_CONNECTSTATE_CLASS, as quser/qwinsta abbreviate it (MS WTS API, wtsapi32.h)."""

    ACTIVE = "active"
    CONNECTED = "connected"
    CONNECT_QUERY = "connect_query"
    SHADOW = "shadow"
    DISCONNECTED = "disconnected"
    IDLE = "idle"
    LISTEN = "listen"
    RESET = "reset"
    DOWN = "down"
    INIT = "init"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Session:
    """One row of quser or qwinsta output.

    Raw texts are kept beside parsed values: the identity check before a logoff compares
    what the host printed, so it never depends on how a date was interpreted.

    Attributes:
        id: Windows session id (0 services, 65536+ listeners).
        username: as printed, without the `>` marker; "" when the row has no user.
        session_name: "console", "rdp-tcp#12", ...; "" for disconnected sessions.
        state: normalized state.
        state_text: the state word as printed (localized).
        idle_seconds: idle time in seconds; 0 for none / "."; None when unknown ("*")
            or not reported (qwinsta).
        idle_text: the idle field as printed.
        logon_time: local wall time of logon (no zone, as Windows prints it), or None.
        logon_text: the logon field as printed.
        current: the row carried the `>` marker (the session the command ran in).
        doubts: what could not be read with certainty, field by field. A doubt on an
            identity field (IDENTITY_FIELDS) protects the row; a doubt on idle or logon
            time keeps it out of the rules that read that field, and nothing else.
    """

    id: int
    username: str
    session_name: str
    state: SessionState
    state_text: str = ""
    idle_seconds: int | None = None
    idle_text: str = ""
    logon_time: datetime | None = None
    logon_text: str = ""
    current: bool = False
    doubts: tuple[Doubt, ...] = ()

    def doubt_about(self, field: DoubtField) -> Doubt | None:
        """The first doubt about one field, or None when that field reads clean."""
        return next((doubt for doubt in self.doubts if doubt.field == field), None)

    @property
    def identity_doubts(self) -> tuple[Doubt, ...]:
        """The doubts that make the row untouchable (user, id, state, session name, row)."""
        return tuple(doubt for doubt in self.doubts if doubt.field in IDENTITY_FIELDS)


class Secret:
    """A password that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


Scheme = Literal["http", "https"]


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach one host over WinRM (from ansible_* / ansible_psrp_* variables).

    The Kerberos fields name the host's service principal (SPN) as `service/hostname`:
    `kerberos_service` is HTTP for the winrm plugin (pywinrm's default) and WSMAN for psrp
    (Ansible's psrp default); `kerberos_hostname_override` replaces the address in the SPN
    (a host reached by IP whose principal is HTTP/rds01.corp.example). `send_cbt` binds
    the authentication to the TLS channel over HTTPS (Windows' CbtHardeningLevel).
    """

    address: str
    port: int
    scheme: Scheme = "http"
    transport: str = "ntlm"  # ntlm, negotiate, kerberos, basic, certificate, credssp
    username: str | None = None
    password: Secret | None = None
    cert_validation: bool = True
    ca_trust_path: str | None = None
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    message_encryption: Literal["auto", "always", "never"] = "auto"
    connection_timeout: float = 10.0
    operation_timeout: float = 20.0
    read_timeout: float = 30.0
    kerberos_service: str = "HTTP"
    kerberos_hostname_override: str | None = None
    send_cbt: bool = True
    path: str = "wsman"  # the WS-Management URL path, without its leading slash


@dataclass(frozen=True, slots=True)
class Host:
    """One host of the inventory, with its variables already merged by precedence.

    Attributes:
        name: inventory hostname (what the admin types in --limit).
        groups: every group the host belongs to, parents included, "all" first.
        connection: resolved connection settings.
        settings: fleetlogoff_* variables, validated by the inventory loader.
    """

    name: str
    groups: tuple[str, ...]
    connection: Connection
    settings: Mapping[str, object] = field(default_factory=dict)
