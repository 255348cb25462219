"""`carepath pathway validate`: located lines, exit codes, patient and events files."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from carepath.cli import cli

ROOT = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<code>[a-z0-9-]+): .+$")


def run(*args, cwd=None):
    return CliRunner().invoke(cli, ["pathway", "validate", *args], catch_exceptions=False)


def located_codes(output):
    rows = []
    for line in output.strip().splitlines():
        match = LINE.match(line)
        assert match, f"not a located line: {line!r}"
        rows.append((match["path"], int(match["line"]), int(match["col"]), match["code"]))
    return rows


def test_examples_are_valid():
    patients = [a for p in sorted((ROOT / "examples/patients").glob("*.yaml")) for a in ("--patient", str(p))]
    events = [a for p in sorted((ROOT / "examples/events").glob("*.yaml")) for a in ("--events", str(p))]
    result = run(str(ROOT / "examples/pathways"), *patients, *events)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_the_built_in_library_is_valid_and_its_catalogues_are_not_read_as_pathways():
    result = run(str(ROOT / "carepath/pathways"), "--strict")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "tags.yaml" not in result.output and "labs.yaml" not in result.output


BAD_PATHWAYS = {
    "alias-bomb": (
        "a: &a [x,x,x,x,x,x,x,x,x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
        ),
        "too-large",
    ),
    "deep": ("a: " + "[" * 500 + "]" * 500 + "\n", "too-deep"),
    "unknown-key": ("pathway: p\ntitle: t\nrule: []\n", "unknown-key"),
    "string-for-number": (
        "pathway: p\ntitle: t\naudience: {gravida: {gte: two}}\nrules: [{id: a, on: enrolled, do: [{push: {content: danger-signs}}]}]\n",
        "type-mismatch",
    ),
    "impossible-date": (
        "pathway: p\ntitle: t\ndescription: 2026-02-30\nrules: [{id: a, on: enrolled, do: [{push: {content: danger-signs}}]}]\n",
        "bad-date",
    ),
    "ga-45-9": (
        "pathway: p\ntitle: t\nrules: [{id: a, at: {gestational_age: 45+9}, do: [{push: {content: danger-signs}}]}]\n",
        "bad-gestational-age",
    ),
    "duplicate-rule": (
        "pathway: p\ntitle: t\nrules:\n  - {id: a, on: enrolled, do: [{push: {content: danger-signs}}]}\n"
        "  - {id: a, on: enrolled, do: [{push: {content: danger-signs}}]}\n",
        "duplicate-rule",
    ),
    "empty": ("", "empty-file"),
}


@pytest.mark.parametrize("name", sorted(BAD_PATHWAYS))
def test_bad_pathway_gets_located_error_and_exit_1(tmp_path, monkeypatch, name):
    text, code = BAD_PATHWAYS[name]
    monkeypatch.chdir(tmp_path)
    Path(f"{name}.yaml").write_text(text, encoding="utf-8")
    result = run(f"./{name}.yaml")
    assert result.exit_code == 1
    rows = located_codes(result.output)
    assert code in [row[3] for row in rows]
    assert all(row[0] == f"./{name}.yaml" for row in rows)  # the path exactly as given


def test_ten_megabyte_file_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"description: " + b"x" * 10_000_000 + b"\n")
    result = run(str(big))
    assert result.exit_code == 1
    assert located_codes(result.output) == [(str(big), 1, 1, "file-too-large")]


def test_non_utf8_file_is_refused(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("pathway: p\ntitle: 妊娠\n".encode("gbk"))
    result = run(str(path))
    assert result.exit_code == 1
    assert located_codes(result.output) == [(str(path), 2, 8, "not-utf8")]


def test_missing_file_is_an_error_not_a_traceback(tmp_path):
    result = run(str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert located_codes(result.output)[0][3] == "not-found"


def test_no_arguments_is_a_usage_error():
    result = CliRunner().invoke(cli, ["pathway", "validate"])
    assert result.exit_code == 2


def test_warnings_pass_unless_strict(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text(
        "pathway: p\ntitle: t\ntags: [甲]\nrules:\n"
        "  - {id: a, on: {event: tag.added, tag: 甲}, do: [{tag: {add: 甲}}]}\n",
        encoding="utf-8",
    )
    assert run(str(path)).exit_code == 0
    assert "possible-loop" in run(str(path)).output
    assert run("--strict", str(path)).exit_code == 1


def test_files_named_together_share_their_tags(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "pathway: a\ntitle: t\ntags: [本院标签]\nrules: [{id: r, on: enrolled, do: [{push: {content: danger-signs}}]}]\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text(
        "pathway: b\ntitle: t\naudience: {tag: 本院标签}\nrules: [{id: r, on: enrolled, do: [{enroll: a}]}]\n",
        encoding="utf-8",
    )
    assert run(str(tmp_path)).exit_code == 0
    alone = run(str(tmp_path / "b.yaml"))
    assert alone.exit_code == 1
    assert [row[3] for row in located_codes(alone.output)] == ["unknown-tag", "unknown-pathway"]


PATIENT = """id: t-1
lmp: 2026-01-05
birth_date: 1990-04-12
gravida: 2
para: 1
enrolled_at: 2026-02-23T09:30:00+08:00
"""


@pytest.mark.parametrize(
    ("change", "code", "line"),
    [
        (("lmp: 2026-01-05", "lmp: 2026-02-30"), "bad-date", 2),
        (("para: 1", "para: 2"), "out-of-range", 5),
        (("enrolled_at: 2026-02-23T09:30:00+08:00", "enrolled_at: 2026-02-23T09:30:00"), "bad-datetime", 6),
        (("lmp: 2026-01-05", "ultrasound: {scan_date: 2026-03-06, ga: 45+9}"), "bad-gestational-age", 2),
        (("gravida: 2", "gravida: two"), "type-mismatch", 4),
        (("id: t-1", "id: t-1\nlabs: {hb: 11.8}"), "implausible-lab", 2),
        (("id: t-1", "id: t-1\nlabz: {}"), "unknown-key", 2),
    ],
)
def test_bad_patient_file(tmp_path, change, code, line):
    path = tmp_path / "patient.yaml"
    path.write_text(PATIENT.replace(*change), encoding="utf-8")
    result = run("--patient", str(path))
    assert result.exit_code == 1, result.output
    assert [(row[3], row[1]) for row in located_codes(result.output)] == [(code, line)]


def test_patient_without_dating_is_refused(tmp_path):
    path = tmp_path / "patient.yaml"
    path.write_text(PATIENT.replace("lmp: 2026-01-05\n", ""), encoding="utf-8")
    result = run("--patient", str(path))
    assert [row[3] for row in located_codes(result.output)] == ["no-dating"]


def test_bad_events_file(tmp_path):
    path = tmp_path / "events.yaml"
    path.write_text(
        "- {id: e1, occurred_at: 2026-07-10T15:00:00+08:00, type: lab.result, data: {code: hb, value: 1100}}\n"
        "- {id: e1, occurred_at: 2026-07-11T15:00:00+08:00, type: diagnosis.added, data: {code: O24.401}}\n"
        "- {occurred_at: 2026-07-12T15:00:00+08:00, type: risk.changed, data: {}}\n"
        "- {occurred_at: 2026-07-12T15:00:00+08:00, type: diagnosis.added, data: {name: x}}\n",
        encoding="utf-8",
    )
    result = run("--events", str(path))
    assert result.exit_code == 1
    codes = [(row[1], row[3]) for row in located_codes(result.output)]
    assert (3, "unknown-event") in codes
    assert (4, "missing-key") in codes
    # semantic checks run only once the shapes are right
    assert not any(code == "implausible-lab" for _, code in codes)


def test_implausible_lab_result_and_duplicate_event_ids(tmp_path):
    path = tmp_path / "events.yaml"
    path.write_text(
        "- {id: e1, occurred_at: 2026-07-10T15:00:00+08:00, type: lab.result, data: {code: hb, value: 1100}}\n"
        "- {id: e1, occurred_at: 2026-07-11T15:00:00+08:00, type: lab.result,"
        " data: {code: fasting_glucose, value: 5.4, unit: mg/dL}}\n",
        encoding="utf-8",
    )
    result = run("--events", str(path))
    assert [(row[1], row[3]) for row in located_codes(result.output)] == [
        (1, "implausible-lab"),
        (2, "duplicate-event"),
        (2, "bad-unit"),
    ]


def test_quoted_impossible_dates_are_caught_too(tmp_path):
    patient = tmp_path / "p.yaml"
    patient.write_text(PATIENT.replace("lmp: 2026-01-05", 'lmp: "2026-02-30"'), encoding="utf-8")
    result = run("--patient", str(patient))
    assert [(row[3], row[1]) for row in located_codes(result.output)] == [("bad-date", 2)]
    events = tmp_path / "e.yaml"
    events.write_text(
        '- {occurred_at: "2026-02-30T10:00:00+08:00", type: pregnancy.ended}\n', encoding="utf-8"
    )
    assert [row[3] for row in located_codes(run("--events", str(events)).output)] == ["bad-date"]


def test_messages_are_english_by_default_and_chinese_with_lang_zh(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "pathway: p\ntitle: p\nrules:\n  - id: r\n    every: {interval: 2dx, from: {gestational_age: '24+0'}}\n"
        "    do: [{push: {content: week-24}}]\n",
        encoding="utf-8",
    )
    english = run(str(bad))
    chinese = run("--lang", "zh", str(bad))
    assert english.exit_code == chinese.exit_code == 1
    line = re.compile(r"^.*p\.yaml:5:\d+: bad-duration: (.*)$", re.M)
    assert "the text '2dx'" in line.search(english.output)[1]
    # the location and the code stay, so scripts that parse the line still can; the words change
    assert "文本 '2dx' 的写法不对" in line.search(chinese.output)[1]
    assert run("--lang", "fr", str(bad)).exit_code == 2  # a usage error, not a traceback


def test_since_on_a_fact_that_is_not_a_date_is_located_in_english_and_chinese(tmp_path):
    """Issue 16 item 9: the misuse of a since leaf names its line, column and stable code."""
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "pathway: p\ntitle: t\naudience:\n  since: {fact: gravida, lt: 18mo}\n"
        "rules: [{id: a, on: enrolled, do: [{push: {content: danger-signs}}]}]\n",
        encoding="utf-8",
    )
    english = run(str(bad))
    chinese = run("--lang", "zh", str(bad))
    assert english.exit_code == chinese.exit_code == 1
    assert [row[1:] for row in located_codes(english.output)] == [(4, 17, "not-a-date")]
    assert [row[1:] for row in located_codes(chinese.output)] == [(4, 17, "not-a-date")]
    assert "'gravida' is not a date" in english.output
    assert "'gravida' 不是日期" in chinese.output


def test_an_event_time_the_event_type_does_not_carry_is_located_in_english_and_chinese(tmp_path):
    """Issue 16 item 2: `at: {event_time: …}` names a date-time field of the rule's event type."""
    bad = tmp_path / "school.yaml"
    bad.write_text(
        "pathway: school\ntitle: 孕妇学校\nrules:\n  - id: class-eve\n    on: {event: class.booked}\n"
        "    do:\n      - remind: {content: danger-signs, at: {event_time: start_at, offset: -1d}}\n"
        "  - id: visit-eve\n    on: {event: appointment.booked}\n"
        "    do: [{remind: {content: danger-signs, at: {event_time: at, offset: -1d}}}]\n",
        encoding="utf-8",
    )
    english = run(str(bad))
    assert english.exit_code == 1
    assert [row[1:] for row in located_codes(english.output)] == [(7, 58, "bad-event-time")]
    assert (
        "class.booked events carry no date and time 'start_at' (did you mean 'starts_at'?)" in english.output
    )
    chinese = run("--lang", "zh", str(bad))
    assert "class.booked 事件没有日期时间字段 'start_at'" in chinese.output


URGENT_MISUSE = """\
pathway: p
title: t
rules:
  - id: severe
    on: {event: lab.result, code: bp_systolic}
    do:
      - push: {content: danger-signs, urgent: true}
      - push: {content: hypertension, urgent: true}
      - questionnaire: {form: bp-log, urgent: true}
      - remind: {content: danger-signs, urgent: true, after: 1d}
"""


def test_urgent_is_located_on_items_not_marked_safety_advice(tmp_path):
    """Issue 16 item 1: danger-signs is safety advice; the hypertension page and the BP log
    are not, and an urgent message takes no after or at (each located at its urgent: true)."""
    path = tmp_path / "urgent.yaml"
    path.write_text(URGENT_MISUSE, encoding="utf-8")
    result = run(str(path))
    assert result.exit_code == 1
    assert located_codes(result.stdout) == [
        (str(path), 8, 47, "urgent-not-safety-advice"),
        (str(path), 9, 47, "urgent-not-safety-advice"),
        (str(path), 10, 49, "schedule-conflict"),
    ]
    assert "review of content item 'hypertension' does not mark it so" in result.stdout
    chinese = run("--lang", "zh", str(path))
    assert "内容 'hypertension' 的审核信息未标记为安全提示" in chinese.stdout


def test_a_bad_value_of_risk_confirmed_is_located_in_english_and_chinese(tmp_path):
    """Issue 16 item 5: risk_confirmed is true or false; anything else names its line and column."""
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "pathway: p\ntitle: t\naudience:\n  risk_confirmed: maybe\n"
        "rules: [{id: a, on: enrolled, do: [{push: {content: danger-signs}}]}]\n",
        encoding="utf-8",
    )
    english = run(str(bad))
    chinese = run("--lang", "zh", str(bad))
    assert english.exit_code == chinese.exit_code == 1
    assert [row[1:] for row in located_codes(english.output)] == [(4, 19, "type-mismatch")]
    assert [row[1:] for row in located_codes(chinese.output)] == [(4, 19, "type-mismatch")]
    assert "the colour she has now is confirmed" in english.output
    assert "仅为建议，待确认" in chinese.output
    good = tmp_path / "good.yaml"
    good.write_text(bad.read_text(encoding="utf-8").replace("maybe", "false"), encoding="utf-8")
    assert run(str(good)).exit_code == 0


def test_an_unknown_medication_is_located_in_english_and_chinese_with_the_close_one(tmp_path):
    """Issue 16 item 9: a medication leaf names a code of the vocabulary (engine/medications.py)."""
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "pathway: p\ntitle: t\naudience:\n  medication: [insuline]\n"
        "rules: [{id: a, on: enrolled, do: [{push: {content: danger-signs}}]}]\n",
        encoding="utf-8",
    )
    english = run(str(bad))
    chinese = run("--lang", "zh", str(bad))
    assert english.exit_code == chinese.exit_code == 1
    assert [row[1:] for row in located_codes(english.output)] == [(4, 16, "unknown-medication")]
    assert [row[1:] for row in located_codes(chinese.output)] == [(4, 16, "unknown-medication")]
    assert (
        "medication 'insuline' is not in the medication vocabulary (did you mean 'insulin'?)"
        in english.output
    )
    assert "药品 'insuline' 不在药品词表中" in chinese.output and "insulin" in chinese.output
