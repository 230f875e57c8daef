"""Write (and read back) the Ansible-compatible YAML inventory of a running lab.

Shape: all.children.rds.hosts.<name> with the winrm connection vars Ansible and fleetlogoff
read. The production default is NTLM over HTTP with message encryption, so ansible_port is
the HTTP port; HTTPS hosts also carry the CA trust path, certificate validation and
`lab_https_port` (Ansible ignores unknown host vars). A Kerberos lab's hosts use
`ansible_winrm_transport: kerberos` with a user principal, carry their DNS name as
`lab_kerberos_hostname` (for ansible_winrm_kerberos_hostname_override), and all.vars names
the realm's krb5.conf as `lab_krb5_config`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleetlogoff.lab.contract import SimulatedHost
from fleetlogoff.lab.server import Endpoint
from fleetlogoff.lab.server_errors import LabError


@dataclass(frozen=True, slots=True)
class KerberosInventory:
    """What a Kerberos lab adds to its inventory.

    Attributes:
        realm: the realm name (user principals are `user@REALM`).
        krb5_conf: the realm's krb5.conf.
        dns_names: each host's DNS name, in host order.
    """

    realm: str
    krb5_conf: str
    dns_names: Sequence[str]


def build_inventory(
    hosts: Sequence[SimulatedHost],
    endpoints: Sequence[Endpoint],
    kerberos: KerberosInventory | None = None,
) -> dict[str, Any]:
    """Build the inventory mapping.

    Args:
        hosts: the simulated hosts (their first admin account becomes ansible_user).
        endpoints: where each host listens, in the same order.
        kerberos: the lab's realm, when it has one.

    Returns:
        A mapping ready for yaml.safe_dump.
    """
    entries: dict[str, Any] = {}
    for index, (host, endpoint) in enumerate(zip(hosts, endpoints, strict=True)):
        entry = _host_vars(host, endpoint)
        if kerberos is not None:
            entry["ansible_user"] = f"{entry['ansible_user']}@{kerberos.realm}"
            entry["ansible_winrm_transport"] = "kerberos"
            entry["lab_kerberos_hostname"] = kerberos.dns_names[index]
        entries[endpoint.name] = entry
    inventory: dict[str, Any] = {"all": {"children": {"rds": {"hosts": entries}}}}
    if kerberos is not None:
        inventory["all"] = {"vars": {"lab_krb5_config": kerberos.krb5_conf}, **inventory["all"]}
    return inventory


def _host_vars(host: SimulatedHost, endpoint: Endpoint) -> dict[str, Any]:
    account = next((a for a in host.accounts if a.admin), None) or next(iter(host.accounts), None)
    entry: dict[str, Any] = {
        "ansible_host": endpoint.address,
        "ansible_port": endpoint.http_port,
        "ansible_user": account.username if account else "",
        "ansible_password": account.password if account else "",
        "ansible_connection": "winrm",
        "ansible_winrm_transport": "ntlm",
        "ansible_winrm_scheme": "http",
    }
    if endpoint.https_port is not None and endpoint.ca_path is not None:
        entry["ansible_winrm_ca_trust_path"] = endpoint.ca_path
        entry["ansible_winrm_server_cert_validation"] = "validate"
        entry["lab_https_port"] = endpoint.https_port
    return entry


def write_inventory(
    path: Path,
    hosts: Sequence[SimulatedHost],
    endpoints: Sequence[Endpoint],
    kerberos: KerberosInventory | None = None,
) -> None:
    """Write the inventory YAML (atomically: a temp file renamed into place)."""
    text = yaml.safe_dump(build_inventory(hosts, endpoints, kerberos), sort_keys=False)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_endpoints(path: Path) -> list[Endpoint]:
    """Read endpoints back from an inventory this module wrote.

    Raises:
        LabError: the file is missing or not in this module's shape.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        hosts = data["all"]["children"]["rds"]["hosts"]
        return [_endpoint(name, entry) for name, entry in hosts.items()]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise LabError(f"{path}: not a lab inventory ({type(exc).__name__}: {exc})") from None


def _endpoint(name: str, entry: dict[str, Any]) -> Endpoint:
    https = entry.get("lab_https_port")
    ca_path = entry.get("ansible_winrm_ca_trust_path")
    return Endpoint(
        name=str(name),
        address=str(entry["ansible_host"]),
        http_port=int(entry["ansible_port"]),
        https_port=int(https) if https is not None else None,
        ca_path=str(ca_path) if ca_path is not None else None,
    )
