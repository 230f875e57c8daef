"""The connector fleet commands use: WinRM's default path (NTLM with encryption over HTTP)
on lean.py, every other transport through pypsrp (winrm.py), which is imported only when a
host needs it: a fleet on the default path never loads pypsrp, requests or urllib3 (about
0.2 s of start-up, benchmarks/README.md)."""

from __future__ import annotations

from fleetlogoff.model import Host
from fleetlogoff.transport import HostSession
from fleetlogoff.transport.lean import lean_applies, open_lean
from fleetlogoff.transport.log_hygiene import install_log_hygiene

install_log_hygiene()  # at import too, so that spawned worker processes get it


class FleetConnector:
    """Opens each host on the lean path when it applies, else on pypsrp's."""

    def __init__(self) -> None:
        install_log_hygiene()

    def open(self, host: Host, *, deadline_s: float) -> HostSession:
        if lean_applies(host):
            return open_lean(host, deadline_s=deadline_s)
        from fleetlogoff.transport.winrm import WinRMConnector  # loads pypsrp, on demand

        return WinRMConnector().open(host, deadline_s=deadline_s)
