"""The safe, located YAML loader: YAML 1.2 scalars, positions, limits, hostile input."""

from hypothesis import given, settings
from hypothesis import strategies as st

from carepath.engine.loader import Limits, load_yaml


def codes(doc):
    return [p.code for p in doc.problems]


def test_on_and_no_stay_words_not_booleans():
    doc = load_yaml(b"on: enrolled\nno: yes\nflag: true\n", "t.yaml")
    assert doc.value == {"on": "enrolled", "no": "yes", "flag": True}


def test_dates_are_checked_and_kept_as_iso_text():
    doc = load_yaml(b"a: 2026-02-28\nb: 2026-07-10T15:00:00+08:00\n", "t.yaml")
    assert doc.value == {"a": "2026-02-28", "b": "2026-07-10T15:00:00+08:00"}


def test_impossible_date_is_located():
    doc = load_yaml(b"lmp: 2026-01-05\nedd: 2026-02-30\n", "t.yaml")
    assert [(p.code, p.location.line, p.location.column) for p in doc.problems] == [("bad-date", 2, 6)]


def test_positions_of_keys_and_values_are_one_based():
    doc = load_yaml(b"rules:\n  - id: a\n    do: [x]\n", "t.yaml")
    assert doc.value_marks[("rules", 0, "id")] == (2, 9)
    assert doc.key_marks[("rules", 0, "do")] == (3, 5)
    assert doc.location(("rules", 0, "do", 0)).line == 3


def test_duplicate_key_is_an_error():
    doc = load_yaml(b"a: 1\nb: 2\na: 3\n", "t.yaml")
    assert codes(doc) == ["duplicate-key"]
    assert doc.problems[0].location.line == 3


def test_alias_bomb_is_refused():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    doc = load_yaml("\n".join(lines).encode(), "bomb.yaml")
    assert codes(doc) == ["too-large"]
    assert doc.value is None


def test_few_aliases_are_allowed():
    doc = load_yaml(b"a: &x {gte: 1}\nb: *x\n", "t.yaml")
    assert doc.value == {"a": {"gte": 1}, "b": {"gte": 1}}
    assert doc.problems == []


def test_too_many_aliases_are_refused():
    text = "a: &x 1\nb: [" + ",".join(["*x"] * 20) + "]\n"
    doc = load_yaml(text.encode(), "t.yaml", Limits(max_aliases=10))
    assert codes(doc) == ["too-many-aliases"]


def test_deep_nesting_is_refused_without_recursion():
    doc = load_yaml(b"a: " + b"[" * 500 + b"]" * 500, "deep.yaml")
    assert codes(doc) == ["too-deep"]


def test_object_constructing_tags_are_refused():
    doc = load_yaml(b"a: !!python/object/apply:os.system ['true']\n", "t.yaml")
    assert codes(doc) == ["yaml-tag"]


def test_large_file_is_refused_before_parsing():
    doc = load_yaml(b"a: " + b"x" * 10_000_000, "big.yaml")
    assert codes(doc) == ["file-too-large"]


def test_non_utf8_is_located_at_the_bad_byte():
    doc = load_yaml("a: 1\nb: 孕\n".encode("gbk"), "t.yaml")
    assert codes(doc) == ["not-utf8"]
    assert (doc.problems[0].location.line, doc.problems[0].location.column) == (2, 4)


def test_empty_file_is_an_error():
    assert codes(load_yaml(b"  \n# only a comment\n", "t.yaml")) == ["empty-file"]


def test_two_documents_are_refused():
    assert codes(load_yaml(b"a: 1\n---\nb: 2\n", "t.yaml")) == ["multiple-documents"]


def test_syntax_error_is_located():
    doc = load_yaml(b"a: [1,\nb: 2\n", "t.yaml")
    assert codes(doc) == ["yaml-syntax"]
    assert doc.problems[0].location.line >= 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_document_never_an_exception(data):
    doc = load_yaml(data, "fuzz.yaml")
    assert doc.value is not None or doc.problems


# --- libyaml: the fast parser gives the documents the pure-Python one gives ----------------


def _load_both(data, monkeypatch):
    import yaml

    from carepath.engine import loader

    fast = load_yaml(data, "t.yaml")
    monkeypatch.setattr(loader, "_FAST_LOADER", yaml.SafeLoader)
    pure = load_yaml(data, "t.yaml")
    monkeypatch.undo()
    return fast, pure


def test_libyaml_and_pure_python_load_every_shipped_file_alike(monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [
        *root.glob("carepath/**/*.yaml"),
        *root.glob("examples/**/*.yaml"),
        *root.glob("tests/cases/**/*.yaml"),
    ]
    assert len(files) > 40
    for path in files:
        fast, pure = _load_both(path.read_bytes(), monkeypatch)
        assert (fast.value, fast.value_marks, fast.key_marks) == (
            pure.value,
            pure.value_marks,
            pure.key_marks,
        ), path
        assert fast.problems == pure.problems, path


def test_a_syntax_error_keeps_pyyamls_wording_and_place(monkeypatch):
    for data in (
        b"a: [\n",
        b"rules:\n  - id: a\n   - id: b\n",
        b"a: b: c\n",
        b"\t- x\n",
        b"a: 1\na: 2\nb: [\n",
    ):
        fast, pure = _load_both(data, monkeypatch)
        assert fast.problems == pure.problems, data
        assert "yaml-syntax" in codes(fast)


def test_the_document_is_located_where_it_starts():
    doc = load_yaml(b"# a comment\npathway: p\ntitle: t\n\n\n", "t.yaml")
    assert doc.value_marks[()] == (2, 1)
