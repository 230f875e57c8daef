"""How many hosts at once, and never too many on one host.

Forks: reading a host is a few round trips of mostly waiting (6 on the default path:
2 NTLM legs, Create, Command, Receive, Delete) and a few milliseconds of CPU, so the
number of hosts at once is set by latency, not by cores. At 20 ms per answer on 2 cores
shared with the lab, plan stops getting faster at about 100 hosts at once (CPU-bound from
there; benchmarks/forks_sweep.py); a real Windows host adds its own time to run quser
(process start-up, tens to hundreds of milliseconds), so a real fleet needs several times
more hosts in flight for the same CPU: DEFAULT_FORKS is 200 (Ansible's 5 would leave the
controller idle). What bounds it is the machine: each host in flight holds a socket (and
on pypsrp's path a duplicate the deadline watchdog keeps), so forks are capped to fit the
process's descriptor limit, which is raised to its hard limit when that helps.

Per host: Windows limits what one account may hold on a host (MaxShellsPerUser: 30 on
2012+, 2 on 2008 and Vista; MaxConnections 300 for the service; winrm-wire.md §5). The
tool holds one connection and one shell per host; an inventory that names the same
endpoint twice (an alias, an IP and a name) would hold more, so hosts sharing an
endpoint take turns: at most PER_HOST at once.
"""

from __future__ import annotations

import logging
import resource
import threading
from collections import Counter
from collections.abc import Sequence

from fleetlogoff.model import Host

log = logging.getLogger(__name__)

DEFAULT_FORKS = 200
PER_HOST = 1
_DESCRIPTORS_PER_HOST = 3  # the socket, the watchdog's duplicate, slack (TLS, logs)
_DESCRIPTORS_SPARE = 64  # the interpreter's own files, pipes to worker processes


def endpoint_of(host: Host) -> tuple[str, int]:
    """What identifies the machine behind a host entry (as far as the inventory tells)."""
    return host.connection.address.lower(), host.connection.port


def endpoint_limits(
    hosts: Sequence[Host], per_host: int = PER_HOST
) -> dict[str, threading.Semaphore]:
    """A semaphore per host entry whose endpoint appears more than `per_host` times
    (shared by the entries of that endpoint); entries alone on theirs need none."""
    counts = Counter(endpoint_of(h) for h in hosts)
    shared: dict[tuple[str, int], threading.Semaphore] = {}
    limits: dict[str, threading.Semaphore] = {}
    for host in hosts:
        endpoint = endpoint_of(host)
        if counts[endpoint] > per_host:
            semaphore = shared.setdefault(endpoint, threading.BoundedSemaphore(per_host))
            limits[host.name] = semaphore
    return limits


def fit_forks(forks: int) -> int:
    """`forks` (threads in this process), lowered to what the descriptor limit allows
    after raising the soft limit towards the hard one if needed."""
    needed = forks * _DESCRIPTORS_PER_HOST + _DESCRIPTORS_SPARE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # keep the soft limit and fit the forks to it
    fitting = forks_within(forks, None if soft == resource.RLIM_INFINITY else soft)
    if fitting < forks:
        log.info("%d hosts at once instead of %d: open file limit %d", fitting, forks, soft)
    return fitting


def forks_within(forks: int, descriptors: int | None) -> int:
    """The most of `forks` hosts a process allowed `descriptors` open files can hold."""
    if descriptors is None:
        return forks
    return max(1, min(forks, (descriptors - _DESCRIPTORS_SPARE) // _DESCRIPTORS_PER_HOST))
