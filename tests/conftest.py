"""What every test shares.

1. No test ever reaches the machine's Kerberos setup. Where python-gssapi is installed
   (the kerberos extra), pyspnego's Negotiate client tries Kerberos first, in the default
   realm of /etc/krb5.conf (the Debian package names ATHENA.MIT.EDU, whose KDCs are real
   hosts on the internet). Tests must only talk to loopback, so the whole run gets a
   krb5.conf with no realm, no DNS lookups and a private ticket cache; the tests that need
   Kerberos start their own realm (tests/kerberos/).
2. A private state directory per test, so no test writes run locks or an audit log into
   the real home (the suite may run as root, where /nonexistent is creatable).
3. Fuzzers (hypothesis) explore new examples on every local run; under CI
   (FLEETLOGOFF_CI=1, set by .ci/run) they replay the same ones, so a landing is never
   blocked by an example nobody can replay. What a local run finds is printed with the
   failing example, to be fixed and pinned as an ordinary test.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("FLEETLOGOFF_CI") == "1":
    settings.load_profile("ci")

_SAFE = Path(tempfile.mkdtemp(prefix="fleetlogoff-test-krb5-"))
atexit.register(shutil.rmtree, _SAFE, ignore_errors=True)
(_SAFE / "krb5.conf").write_text(
    "[libdefaults]\n"
    "    dns_lookup_kdc = false\n"
    "    dns_lookup_realm = false\n"
    "    dns_canonicalize_hostname = false\n"
    "    rdns = false\n",
    encoding="utf-8",
)
SAFE_KRB5_ENV = {
    "KRB5_CONFIG": str(_SAFE / "krb5.conf"),
    "KRB5_KDC_PROFILE": str(_SAFE / "kdc.conf"),
    "KRB5CCNAME": f"FILE:{_SAFE / 'ccache'}",
    "KRB5_KTNAME": f"FILE:{_SAFE / 'keytab'}",
    "KRB5_CLIENT_KTNAME": f"FILE:{_SAFE / 'client.keytab'}",
    "KRB5RCACHEDIR": str(_SAFE),
}
os.environ.update(SAFE_KRB5_ENV)


@pytest.fixture(autouse=True)
def _private_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("HOME", str(state / "home"))
    monkeypatch.delenv("FLEETLOGOFF_LOCK_DIR", raising=False)
    return state
