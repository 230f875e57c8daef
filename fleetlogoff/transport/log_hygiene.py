"""What the wire libraries may log: no authentication token, no password, no traceback.

pyspnego logs every NTLM, SPNEGO, Kerberos and CredSSP token at DEBUG ("NTLM step output:
<base64>"): the AUTHENTICATE message with its challenge can be cracked offline, and the
service account is an administrator on every host (issue 7). pypsrp logs a traceback at
ERROR for every read timeout (60 lines for one slow host) and urllib3 one for odd
headers, although the host's outcome already says what failed.

Installed as a log record factory, so it holds whatever handlers, levels or filters the
CLI sets up (-v levels, --debug) and for loggers created later: every record of the wire
libraries is scrubbed of tokens, a traceback becomes one DEBUG line, and any record of
any logger is scrubbed of the registered secrets (passwords, NT hashes).
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

_WIRE_PREFIXES = (
    "spnego",
    "pypsrp",
    "requests",
    "requests_credssp",
    "urllib3",
    "gssapi",
    "krb5",
    "winrm",
    "fleetlogoff.transport",
)
# Scheme then token, as in Authorization / WWW-Authenticate values.
_SCHEME_TOKEN = re.compile(
    r"\b(Negotiate|NTLM|Kerberos|Basic|CredSSP|Bearer)(\s+)[A-Za-z0-9+/=._~-]{8,}", re.IGNORECASE
)
# pyspnego's "<mech> step input: <b64>" / "CredSSP TSRequest output: <b64>".
_STEP_TOKEN = re.compile(r"\b(input|output)(:\s*)[A-Za-z0-9+/=]+", re.IGNORECASE)
# An NTLMSSP message in base64 ("NTLMSSP\0" = TlRMTVNTUAA) or hex, anywhere.
_NTLMSSP = re.compile(r"TlRMTVNTUA[A-Za-z0-9+/=]*|4e544c4d53535000[0-9a-fA-F]*", re.IGNORECASE)
_REDACTED = "<redacted>"

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def register_secret(value: str) -> None:
    """Never let `value` (a password, a hash) appear in a log record. Short values are
    ignored: scrubbing "a" from every line would destroy the log and protect nothing."""
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)


def scrub(text: str, *, wire: bool = True) -> str:
    """`text` without registered secrets and, for wire records, without auth tokens."""
    if wire:
        text = _NTLMSSP.sub(_REDACTED, text)
        text = _SCHEME_TOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}", text)
        text = _STEP_TOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}", text)
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def install_log_hygiene() -> None:
    """Wrap the process's log record factory (once; later calls do nothing)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        wire = record.name.startswith(_WIRE_PREFIXES)
        if not wire and not _secrets:
            return record
        _clean(record, wire)
        return record

    logging.setLogRecordFactory(factory)


def _clean(record: logging.LogRecord, wire: bool) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a library's bad format string: keep its words, not its args
        message = str(record.msg)
    if wire and record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        first = " ".join(str(error).split())[:200]
        message = f"{message} ({type(error).__name__}: {first})"
        record.exc_info, record.exc_text = None, None
        # The host's outcome reports the failure; the library's own report is detail.
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    record.msg, record.args = scrub(message, wire=wire), ()
