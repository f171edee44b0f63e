"""YAML with positions: values, marks, and every problem of a file reported at once."""

from __future__ import annotations

import datetime

from mnops_assets.estate.yamldoc import load_yaml, parse_yaml


def test_values_and_their_positions():
    doc, problems = parse_yaml("a: 1\nb:\n  c: [x, 2]\n  when: 2026-12-31\n", "f.yaml")
    assert problems == []
    assert doc.data == {"a": 1, "b": {"c": ["x", 2], "when": datetime.date(2026, 12, 31)}}
    assert doc.value_position(("a",)) == (1, 4)
    assert doc.key_position(("b",)) == (2, 1)
    assert doc.value_position(("b", "c", 1)) == (3, 10)


def test_positions_fall_back_to_the_nearest_ancestor():
    doc, _ = parse_yaml("a:\n  b: 1\n", "f.yaml")
    assert doc.key_position(("a", "missing", "deeper")) == (1, 1)


def test_empty_file_is_an_empty_mapping():
    doc, problems = parse_yaml("# only a comment\n", "f.yaml")
    assert problems == [] and doc.data == {}


def test_every_duplicate_key_is_reported():
    _, problems = parse_yaml("a: 1\na: 2\nb:\n  c: 1\n  c: 2\n", "f.yaml")
    assert [str(p) for p in problems] == [
        "f.yaml:2:1: a: duplicate key (first set on line 1)",
        "f.yaml:5:3: b.c: duplicate key (first set on line 4)",
    ]


def test_every_tabbed_line_is_reported():
    _, problems = parse_yaml("a:\n\tb: 1\nc:\n  \td: 2\n", "f.yaml")
    assert [(p.line, p.column) for p in problems] == [(2, 1), (4, 3)]
    assert problems[0].message == "tab in indentation; YAML indents with spaces"


def test_syntax_error_names_line_and_column():
    _, problems = parse_yaml("a: [1, 2\nb: 3\n", "f.yaml")
    assert len(problems) == 1
    assert problems[0].field == "yaml" and problems[0].message.startswith("syntax error:")
    assert problems[0].line == 2


def test_keys_yaml_reads_as_booleans_must_be_quoted():
    _, problems = parse_yaml("tags:\n  on: x\n  'yes': y\n", "f.yaml")
    assert [str(p) for p in problems] == ["f.yaml:2:3: tags.on: key 'on' is read as bool; quote it"]


def test_merge_keys_are_refused():
    _, problems = parse_yaml("base: &b {x: 1}\nother:\n  <<: *b\n", "f.yaml")
    assert problems[0].message.startswith("merge keys (<<) are not supported")


def test_aliases_are_followed_but_recursion_is_refused():
    doc, problems = parse_yaml("a: &x [1, 2]\nb: *x\n", "f.yaml")
    assert problems == [] and doc.data["b"] == [1, 2]
    _, problems = parse_yaml("a: &x [*x]\n", "f.yaml")
    assert problems[0].message == "an alias refers to the node that contains it"


def test_top_level_must_be_a_mapping():
    _, problems = parse_yaml("- a\n- b\n", "f.yaml")
    assert str(problems[0]) == "f.yaml:1:1: (file): must be a mapping of keys"


def test_custom_tags_are_refused():
    _, problems = parse_yaml("a: !vault secret/db\n", "f.yaml")
    assert problems[0].message == "unsupported tag '!vault'"


def test_files_that_are_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    doc, problems = load_yaml(path, "latin1.yaml")
    assert doc is None
    assert problems[0].message.startswith("not UTF-8 text")


def test_an_alias_bomb_is_refused_before_it_is_expanded():
    # A billion values if expanded; the count stops at the limit, so no document of that size is ever built.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    doc, problems = parse_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert doc is None
    assert problems[0].message.startswith("holds more than 200,000 values (counting each use of an alias)")
