"""The YAML reader under hostile input: alias bombs, deep nesting, huge documents and
tagged values give one line at once, and never quote a value (it may be a password)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetlogoff.errors import ConfigError
from fleetlogoff.yamlsource import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_TEXT,
    Position,
    YamlMap,
    YamlScalar,
    parse_yaml,
    read_yaml_text,
    to_plain,
)

SECRET = "Sup3r-S3cret-99"
STR = "tag:yaml.org,2002:str"


def billion_laughs(levels: int = 9) -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_where_it_explodes() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml(billion_laughs(), "bomb.yml")
    assert (
        info.value.reason == f"more than {MAX_NODES:,} values once aliases are expanded: not read"
    )
    assert (info.value.line, info.value.column) == (6, 36)  # the *e that passes a million


def test_a_few_aliases_are_fine_and_shared() -> None:
    root = parse_yaml("base: &b {x: 1}\none: *b\ntwo: *b\n", "ok.yml")
    assert isinstance(root, YamlMap)
    assert to_plain(root) == {"base": {"x": 1}, "one": {"x": 1}, "two": {"x": 1}}


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n",
        "".join(" " * i + "k:\n" for i in range(MAX_DEPTH + 5)),
        "[" * 100_000,
    ],
    ids=["flow", "block", "unclosed"],
)
def test_deep_nesting_is_one_line(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "deep.yml")
    assert info.value.line > 0 and "\n" not in str(info.value)


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1
    root = parse_yaml("a: " + "[" * depth + "]" * depth + "\n", "ok.yml")
    assert root is not None


def test_a_huge_document_is_refused_before_parsing() -> None:
    with pytest.raises(ConfigError, match="larger than 16 MiB"):
        parse_yaml("#" * (MAX_TEXT + 1), "huge.yml")


def test_a_recursive_alias_is_an_error() -> None:
    with pytest.raises(ConfigError, match="recursive YAML alias"):
        parse_yaml("a: &x [1, *x]\n", "loop.yml")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (f"!!int {SECRET}", "not a valid !!int"),
        (f"!!float {SECRET}", "not a valid !!float"),
        (f"!!timestamp {SECRET}", "not a valid !!timestamp"),
        (f"!!bool {SECRET}", "not a valid !!bool"),
        (f"!!binary {SECRET}", "not a valid !!binary"),
        (f"!!python/object:os.system {SECRET}", "unsupported tag"),
        ("9" * 5000, "not a valid !!int"),
        ("2024-99-99", "not a valid !!timestamp"),
    ],
)
def test_a_tagged_value_that_cannot_be_built_is_never_quoted(value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml(f"all:\n  vars:\n    ansible_password: {value}\n", "tags.yml")
    assert (info.value.line, info.value.column) == (3, 23)
    assert reason in info.value.reason
    assert SECRET not in str(info.value) and "9999" not in str(info.value)


def test_tags_on_collections_other_than_maps_and_lists_are_refused() -> None:
    with pytest.raises(ConfigError, match="unsupported tag '!!set'"):
        parse_yaml("a: !!set {x: null}\n", "set.yml")


def test_several_documents_and_duplicate_keys_point_at_the_place() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: 1\n---\nb: 2\n", "docs.yml")
    assert info.value.line == 2 and "several YAML documents" in info.value.reason
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: 1\nb: 2\na: 3\n", "dup.yml")
    assert (info.value.line, info.value.reason) == (
        3,
        "duplicate key 'a' (first defined at line 1)",
    )


def test_merge_keys_follow_the_spec() -> None:
    text = "x: &x {a: 1, b: 1}\ny: &y {b: 2, c: 2}\nz:\n  <<: [*x, *y]\n  a: 0\n"
    root = parse_yaml(text, "merge.yml")
    assert to_plain(root) == {  # type: ignore[arg-type]  # parsed above, not None
        "x": {"a": 1, "b": 1},
        "y": {"b": 2, "c": 2},
        "z": {"a": 0, "b": 1, "c": 2},
    }


def test_local_tags_are_kept_for_the_reader() -> None:
    root = parse_yaml(
        "p: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nq: !unsafe '{{ x }}'\n", "t.yml"
    )
    assert isinstance(root, YamlMap)
    vault, unsafe = root.get("p"), root.get("q")
    assert vault is not None and unsafe is not None
    assert (vault.tag, unsafe.tag) == ("!vault", "!unsafe")  # type: ignore[union-attr]  # scalars


def test_a_yaml_file_is_read_with_a_bound(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_bytes(b"\xef\xbb\xbfrules: []\n")
    assert read_yaml_text(tmp_path / "rules.yml", "rules file") == "rules: []\n"
    with pytest.raises(ConfigError, match="rules file larger than 16 MiB: not read"):
        read_yaml_text("/dev/zero", "rules file")  # would never end
    (tmp_path / "latin1.yml").write_bytes(b"caf\xe9: 1\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_yaml_text(tmp_path / "latin1.yml", "rules file")
    with pytest.raises(ConfigError, match="cannot read rules file"):
        read_yaml_text(tmp_path / "missing.yml", "rules file")


def test_the_parser_builds_the_nodes_the_constructors_build() -> None:
    """The parser sets positions' and scalars' slots directly (faster than a frozen
    dataclass's __init__): the same objects, still frozen, still hashable."""
    root = parse_yaml("a: 5985\nb: !!int 5985\nc: text\n", "f.yml")
    assert isinstance(root, YamlMap)
    built = [(key, value) for key, value in root]
    expected = [
        (YamlScalar("a", "a", STR, Position("f.yml", 1, 1)), 5985, "tag:yaml.org,2002:int"),
        (YamlScalar("b", "b", STR, Position("f.yml", 2, 1)), 5985, "tag:yaml.org,2002:int"),
        (YamlScalar("c", "c", STR, Position("f.yml", 3, 1)), "text", STR),
    ]
    for (key, value), (want_key, want_value, want_tag) in zip(built, expected, strict=True):
        assert key == want_key
        assert hash(key) == hash(want_key)
        assert repr(key.pos) == repr(want_key.pos)
        assert isinstance(value, YamlScalar)
        assert (value.value, value.tag) == (want_value, want_tag)
        with pytest.raises(AttributeError):
            value.text = "changed"  # type: ignore[misc]  # frozen, as built by the constructor
