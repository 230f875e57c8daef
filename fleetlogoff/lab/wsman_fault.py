"""WS-Management faults shaped like the real Windows captures (winrm-wire.md §2.9, S6-S8, S12, S13).

A fault is raised as an exception by the shell logic and rendered by the server as HTTP 500
(every fault in the captures is HTTP 500), encrypted when the connection encrypts.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from fleetlogoff.lab.wsman import NS_F, build_envelope

FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ADDRESSING_FAULT_ACTION = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault"
_DETAIL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail"

# WSManFault codes (wsmerror.h via microsoft/windows-rs, winrm-wire.md §2.9).
CODE_TIMED_OUT = 2150858793  # 0x80338029 ERROR_WSMAN_OPERATION_TIMEDOUT
CODE_UNEXPECTED_SELECTORS = 2150858843  # 0x8033805B ERROR_WSMAN_UNEXPECTED_SELECTORS
CODE_INVALID_HEADER = 2150858767  # invalid OperationTimeout header (capture S12)
CODE_MAX_SHELLS = 2150859173  # 0x803381A5 ERROR_WSMAN_QUOTA_MAX_SHELLS
CODE_MAX_OPERATIONS = 2150859174  # 0x803381A6 ERROR_WSMAN_QUOTA_MAX_OPERATIONS
CODE_INVALID_PARAMETER = 87  # ERROR_INVALID_PARAMETER from winrscmd.dll (capture S8)
CODE_ACCESS_DENIED = 5  # ERROR_ACCESS_DENIED (diyan/pywinrm#336)
CODE_FILENAME_TOO_LONG = 2147942606  # 0x800700CE ERROR_FILENAME_EXCED_RANGE (capture S15)
CODE_ACTION_NOT_SUPPORTED = 2150858853  # 0x80338065 ERROR_WSMAN_ACTION_NOT_SUPPORTED
CODE_INVALID_XML = 2150858819  # 0x80338043 ERROR_WSMAN_INVALID_XML
CODE_UNSPECIFIED = 2147500037  # 0x80004005 E_FAIL

_CMD_PLUGIN = ("Shell cmd plugin", r"%systemroot%\system32\winrscmd.dll")
_SHELL_PROVIDER = ("Shell provider", r"%systemroot%\system32\WsmSvc.dll")
_MSG_TIMED_OUT = (
    "The WS-Management service cannot complete the operation within the time specified in "
    "OperationTimeout.  "
)
_MSG_SELECTORS = (
    "The WS-Management service cannot process the request because the request contained "
    "invalid selectors for the resource. "
)


class WsmanFault(Exception):  # noqa: N818 (named after the SOAP element it renders)
    """A WS-Man fault the server answers with HTTP 500.

    Attributes:
        spec: what the fault envelope says.
    """

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        super().__init__(f"WS-Man fault {spec.code}: {spec.message.strip()}")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """The fields of one fault envelope.

    Attributes:
        code: WSManFault/@Code.
        sender: True for s:Sender, False for s:Receiver.
        subcode: the s:Subcode value with its prefix (e.g. "w:TimedOut").
        reason: s:Reason/s:Text.
        message: f:Message text (or ProviderFault text when provider is set).
        provider: (provider, path) of an f:ProviderFault, or None.
        detail: w:FaultDetail URI, or None.
        nested: wrap the message in a nested WSManFault inside the ProviderFault (capture S13).
        addressing: use the addressing fault Action (capture S12).
    """

    code: int
    sender: bool
    subcode: str
    reason: str
    message: str
    provider: tuple[str, str] | None = None
    detail: str | None = None
    nested: bool = False
    addressing: bool = False


def render_fault(spec: FaultSpec, relates_to: str, machine: str) -> bytes:
    """Render a fault envelope exactly in the capture shape.

    Args:
        spec: the fault.
        relates_to: the request MessageID.
        machine: the WSManFault/@Machine value (the host name).

    Returns:
        The envelope bytes.
    """
    value = "s:Sender" if spec.sender else "s:Receiver"
    wsman_open = f'<f:WSManFault xmlns:f="{NS_F}" Code="{spec.code}" Machine={quoteattr(machine)}>'
    message = escape(spec.message)
    if spec.nested:
        message = f"{wsman_open}<f:Message>{message}</f:Message></f:WSManFault>"
    if spec.provider is not None:
        name, path = spec.provider
        message = (
            f"<f:ProviderFault provider={quoteattr(name)} path={quoteattr(path)}>"
            f"{message}</f:ProviderFault>"
        )
    detail = f"<w:FaultDetail>{spec.detail}</w:FaultDetail>" if spec.detail else ""
    body = (
        f"<s:Fault><s:Code><s:Value>{value}</s:Value><s:Subcode><s:Value>{spec.subcode}"
        f'</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(spec.reason)}'
        f"</s:Text></s:Reason><s:Detail>{detail}{wsman_open}<f:Message>{message}</f:Message>"
        "</f:WSManFault></s:Detail></s:Fault>"
    )
    action = ADDRESSING_FAULT_ACTION if spec.addressing else FAULT_ACTION
    return build_envelope(action, relates_to, body, "s a x e n w p")


def timed_out() -> WsmanFault:
    """Receive found no output within OperationTimeout (capture S6)."""
    return WsmanFault(
        FaultSpec(CODE_TIMED_OUT, False, "w:TimedOut", _MSG_TIMED_OUT, _MSG_TIMED_OUT)
    )


def unknown_command() -> WsmanFault:
    """An unknown or already-finished CommandId (capture S7)."""
    message = (
        "The Windows Remote Shell received a request to perform an operation on a command "
        "identifier that does not exist. Either the command has completed execution or the "
        "client specified an invalid command identifier. "
    )
    spec = FaultSpec(
        CODE_UNEXPECTED_SELECTORS,
        True,
        "w:InvalidSelectors",
        _MSG_SELECTORS,
        message,
        detail=f"{_DETAIL}/UnexpectedSelectors",
    )
    return WsmanFault(spec)


def unknown_shell(shell_id: str) -> WsmanFault:
    """An unknown, deleted or idle-expired ShellId on a shell operation (winrm-wire.md §2.9)."""
    message = (
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the "
        "shell was not found on the server. Possible causes are: the specified ShellId is "
        "incorrect or the shell no longer exists on the server. Provide the correct ShellId or "
        "create a new shell and retry the operation. "
    )
    spec = FaultSpec(
        CODE_UNEXPECTED_SELECTORS,
        True,
        "w:InvalidSelectors",
        _MSG_SELECTORS,
        message,
        detail=f"{_DETAIL}/UnexpectedSelectors",
    )
    return WsmanFault(spec)


def unknown_shell_get() -> WsmanFault:
    """Get on a shell resource that no longer exists (capture S13, nested ProviderFault)."""
    spec = FaultSpec(
        CODE_UNEXPECTED_SELECTORS,
        True,
        "w:InvalidSelectors",
        _MSG_SELECTORS,
        _MSG_SELECTORS,
        provider=_SHELL_PROVIDER,
        detail=f"{_DETAIL}/UnexpectedSelectors",
        nested=True,
    )
    return WsmanFault(spec)


def invalid_parameter() -> WsmanFault:
    """winrscmd.dll rejected a parameter, e.g. Receive without CommandId (capture S8)."""
    text = "The parameter is incorrect. "
    spec = FaultSpec(
        CODE_INVALID_PARAMETER,
        True,
        "w:InvalidParameter",
        text,
        text,
        provider=_CMD_PLUGIN,
        detail=f"{_DETAIL}/InvalidValue",
    )
    return WsmanFault(spec)


def invalid_timeout(raw: str) -> WsmanFault:
    """An OperationTimeout header that is not a valid duration (capture S12)."""
    reason = (
        "The WS-Management service cannot process the request. The request contains one or more "
        "invalid SOAP headers. "
    )
    message = (
        "The WS-Management service cannot process the request. The XML contains an invalid "
        f"timeout field in the SOAP header: {raw}. "
    )
    spec = FaultSpec(
        CODE_INVALID_HEADER,
        True,
        "a:InvalidMessageInformationHeader",
        reason,
        message,
        addressing=True,
    )
    return WsmanFault(spec)


def command_line_too_long() -> WsmanFault:
    """winrscmd.dll refused a command line longer than cmd.exe accepts (capture S15)."""
    text = "The filename or extension is too long. "
    spec = FaultSpec(
        CODE_FILENAME_TOO_LONG, False, "w:InternalError", text, text, provider=_CMD_PLUGIN
    )
    return WsmanFault(spec)


def max_shells() -> WsmanFault:
    """The user already has MaxShellsPerUser shells (MS-WSMV 3.1.4.5.2.1, note <111>)."""
    text = (
        "The WS-Management service cannot process the request. The maximum number of concurrent "
        "shells for this user has been exceeded. Close existing shells or raise the quota for "
        "this user. "
    )
    return WsmanFault(FaultSpec(CODE_MAX_SHELLS, False, "w:QuotaLimit", text, text))


def max_operations(limit: int) -> WsmanFault:
    """The user ran MaxConcurrentOperationsPerUser commands in open shells (winrm-wire.md
    §2.9, text from ansible/ansible#83656; HTTP status and subcode UNVERIFIED)."""
    text = (
        "The WS-Management service cannot process the request. This user is allowed a maximum "
        f"number of {limit} concurrent operations, which has been exceeded. Close existing "
        "operations for this user, or raise the quota for this user. "
    )
    return WsmanFault(FaultSpec(CODE_MAX_OPERATIONS, False, "w:QuotaLimit", text, text))


def access_denied() -> WsmanFault:
    """Authenticated but not an administrator (winrm-wire.md §2.9; subcode UNVERIFIED)."""
    text = "Access is denied. "
    return WsmanFault(FaultSpec(CODE_ACCESS_DENIED, True, "w:AccessDenied", text, text))


def action_not_supported(action: str) -> WsmanFault:
    """An Action or ResourceURI the lab does not serve (exact Windows text UNVERIFIED)."""
    text = (
        "The WS-Management service cannot process the request. The action is not supported by "
        f"the service: {action}. "
    )
    return WsmanFault(
        FaultSpec(CODE_ACTION_NOT_SUPPORTED, True, "a:ActionNotSupported", text, text)
    )


def invalid_xml() -> WsmanFault:
    """The body is not a SOAP envelope the service can read (wsmerror.h text; the subcode
    and HTTP status for this case are UNVERIFIED, no capture shows them)."""
    text = "The WS-Management service cannot process the request because the XML is invalid. "
    return WsmanFault(FaultSpec(CODE_INVALID_XML, True, "w:SchemaValidationError", text, text))


def internal_error() -> WsmanFault:
    """The simulated host failed unexpectedly: a lab bug answered as a provider failure, so
    the client sees a fault instead of a dropped connection (LAB ASSUMPTION)."""
    text = "Unspecified error "
    return WsmanFault(
        FaultSpec(CODE_UNSPECIFIED, False, "w:InternalError", text, text, provider=_CMD_PLUGIN)
    )
