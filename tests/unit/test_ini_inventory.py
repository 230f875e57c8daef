"""INI inventories with the semantics of Ansible's ini plugin: sections, children declared
later, typed values, ports and ranges, and every refusal at file:line:col."""

from __future__ import annotations

import pytest

from fleetlogoff.errors import ConfigError
from fleetlogoff.inventory import Inventory, parse_inventory
from fleetlogoff.inventory.graph import InventoryGraph
from fleetlogoff.inventory.ini_plugin import read_ini_inventory
from fleetlogoff.inventory.vault import Keyring
from tests.inventoryutil import plain, values


def ini(text: str) -> Inventory:
    return parse_inventory(text, "hosts.ini", suffix=".ini")


def test_hosts_before_any_section_are_ungrouped_and_groups_nest() -> None:
    inventory = ini(
        "# a comment\n; another\nmail.example.com\n\n"
        "[atlanta]\nhost1\nhost2\n[raleigh]\nhost2\nhost3\n"
        "[southeast:children]\natlanta\nraleigh\n[southeast:vars]\nescape_pods=2\n"
    )
    assert inventory.names == ["mail.example.com", "host1", "host2", "host3"]
    assert inventory.groups["ungrouped"] == ("mail.example.com",)
    assert inventory.groups["southeast"] == ("host1", "host2", "host3")
    assert values(inventory, "host3") == {"escape_pods": 2}


def test_values_are_typed_as_ansibles_ini_plugin_types_them() -> None:
    inventory = ini(
        "h1 a=1 b='5' c=\"[1, 2]\" d=True e=None f=1e3 g=0x10 h=a\\ b i={'k':1} j=(1,2)"
        " l=1+2j m=... n=yes\n"
        '[ungrouped:vars]\nv1=FALSE\nv2=False\nv3="quoted # x"\nv4=5 # comment\nv5 = spaced out\n'
        "v7=\nv8='a=b'\n"
    )
    assert values(inventory, "h1") == {
        "a": 1,
        "b": 5,  # shlex removes the quotes first
        "c": [1, 2],
        "d": True,
        "e": None,
        "f": 1000.0,
        "g": 16,
        "h": "a b",
        "i": "{k:1}",
        "j": [1, 2],
        "l": "(1+2j)",
        "m": "...",
        "n": "yes",
        "v1": "FALSE",
        "v2": False,
        "v3": "quoted # x",
        "v4": 5,  # a Python comment
        "v5": "spaced out",
        "v7": "",
        "v8": "a=b",
    }


def test_typed_connection_values_read_as_ansible_sends_them() -> None:
    inventory = ini(
        "[win]\nrds01 ansible_port=5985 ansible_password=12345\n"
        "[win:vars]\nansible_connection=winrm\nansible_winrm_transport=ntlm\n"
    )
    conn = inventory.select(None)[0].connection
    assert (conn.port, conn.scheme, conn.transport) == (5985, "http", "ntlm")
    assert conn.password is not None and conn.password.reveal() == "12345"


def test_children_and_vars_may_come_before_their_group() -> None:
    inventory = ini(
        "[parent:children]\nchild\n[parent:vars]\npv=1\n[child]\nh1\n"
        "[grand:children]\nparent\n[grand]\nh0\n"
    )
    assert inventory.groups["grand"] == ("h0", "h1")
    assert next(h for h in inventory.hosts if h.name == "h1").groups == (
        "all",
        "grand",
        "parent",
        "child",
    )


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ("[parent:children]\nnever\n", 2, 1, "names 'never', a group never declared"),
        ("[ghost:vars]\nx=1\n", 1, 1, "[ghost:vars] is for a group never declared"),
        ("[g:hostz]\n", 1, 1, "unknown type 'hostz'"),
        ("[bad group]\n", 1, 1, "invalid section"),
        ("[g]\nh1 oops\n", 2, 1, "expected key=value after the host name (word 2)"),
        ("[g]\nh1 ansible_password= Sup3r\n", 2, 1, "(word 3)"),
        ("[g]\nh1 x='unclosed\n", 2, 1, "cannot split the host line"),
        ("[g:vars]\nno equals sign\n", 2, 1, "expected key=value in [g:vars]"),
        ("[g:children]\ntwo words\n", 2, 1, "expected one group name a line"),
        ("[g]\n[g:children]\nansible_password=Sup3r\n", 3, 1, "one group name a line"),
        ("[g]\nrds01:\n", 2, 1, "reserved for a port"),
        ("[g]\n  ---\n", 2, 3, "looks like a YAML file"),
        ("[g]\nrds[3:1]\n", 2, 1, "counts backwards"),
        ("[a:children]\nb\n[b:children]\na\n[b]\n", 4, 1, "loop"),
        ("[g]\nh1 =x\n", 2, 4, "a variable needs a name"),
    ],
)
def test_ini_errors_point_at_line_and_column(
    text: str, line: int, column: int, reason: str
) -> None:
    with pytest.raises(ConfigError) as info:
        ini(text)
    assert (info.value.source, info.value.line, info.value.column) == ("hosts.ini", line, column)
    assert reason in info.value.reason and "Sup3r" not in str(info.value)


def test_ports_and_ranges_on_host_lines() -> None:
    inventory = ini("[g]\nrds[1:3]:5986 x=1\n[2001:db8::1]:5985\nbeta:2345 user=admin # note\n")
    assert inventory.names == ["rds1", "rds2", "rds3", "2001:db8::1", "beta"]
    assert values(inventory, "rds2") == {"ansible_port": 5986, "x": 1}
    assert values(inventory, "beta") == {"ansible_port": 2345, "user": "admin"}


def test_a_yaml_file_with_ini_content_is_read_as_ini_as_ansible_does() -> None:
    inventory = parse_inventory("[rds]\nrds01\n", "hosts.yml")
    assert inventory.groups["rds"] == ("rds01",)


def test_the_error_shown_is_the_one_of_the_format_the_text_looks_like() -> None:
    with pytest.raises(ConfigError, match="invalid YAML"):
        parse_inventory("rds:\n  hosts: [\n", "hosts")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_inventory("[rds]\nrds01 oops\n", "hosts")


def test_a_literal_too_large_to_type_stays_text() -> None:
    graph = InventoryGraph()
    nested = "[" * 300 + "]" * 300
    read_ini_inventory(f"h1 deep={nested} big={'9' * 5000}\n", "x.ini", graph, Keyring())
    deep = graph.hosts["h1"].vars["deep"].node
    assert plain(deep) == nested  # Python's parser refuses 300 levels: text, as in Ansible
    assert plain(graph.hosts["h1"].vars["big"].node) == "9" * 5000
