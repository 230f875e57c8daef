"""pyspnego's own NTLM acceptor, for tests that hold the tool's NTLM (its client, its
sealing) against the reference rather than against the lab's faster acceptor."""

from __future__ import annotations

from pathlib import Path

import spnego

from fleetlogoff.lab.auth import _user_file


class PyspnegoAcceptor:
    """pyspnego's NTLM acceptor for one host's user file (the lab writes the file, and its
    lock points NTLM_USER_FILE at it for each step, as pyspnego reads it then)."""

    def __init__(self, user_file: Path) -> None:
        self._user_file = user_file
        with _user_file(user_file):
            options = spnego.NegotiateOptions.wrapping_winrm
            self.context = spnego.server(protocol="ntlm", options=options)

    @property
    def complete(self) -> bool:
        return bool(self.context.complete)

    def step(self, token: bytes) -> bytes | None:
        with _user_file(self._user_file):
            answer: bytes | None = self.context.step(token)
        return answer
