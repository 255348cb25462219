"""The preview in words: the engine's record with ids, unchanged, and the sentence a doctor
would say, with titles, in Chinese and in English."""

from __future__ import annotations

from pathlib import Path

from carepath.engine.compiler import Unit, compile_paths, compile_units
from carepath.engine.preview import demo_persona, persona_facts, preview
from carepath.engine.runtime import Library
from carepath.webapi.common.diagnostics_text import translator
from carepath.webapi.staff.preview_text import Titles, describe_condition, record, row_why, why

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = Library(
    compile_paths(
        sorted(
            str(p)
            for p in (ROOT / "carepath/pathways").glob("*.yaml")
            if p.name not in ("tags.yaml", "labs.yaml")
        )
    ).pathways
)
ZH = translator("zh")


def test_the_record_of_a_demo_patient_names_each_rule_that_fired():
    # moved from tests/engine/test_preview.py (PreviewItem.why is now preview_text.record)
    facts, events = demo_persona(ROOT / "examples/patients/demo-001.yaml")
    shown = preview(LIBRARY, facts, events)
    for item in shown.items:
        assert record(item).startswith(f"{item.row.pathway}/{item.row.rule} fired: ")
    ogtt = next(i for i in shown.items if i.row.rule == "ogtt")
    assert record(ogtt) == (
        "checkup-schedule/ogtt fired: at GA 23+4; condition held: "
        "gestational age < 28+0 and not visit done: ogtt and not ICD-10 O24*"
    )
    welcome = next(i for i in shown.items if i.row.pathway == "gdm" and i.row.rule == "welcome")
    assert welcome.row.why == "enrolled" and "condition held" not in record(welcome)


def test_conditions_in_words():
    # moved from tests/engine/test_preview.py (describe_condition left the engine)
    pathway = compile_units(
        [
            Unit(
                "c.yaml",
                b"""
pathway: c
title: c
rules:
  - id: r
    on: enrolled
    when:
      any:
        - all: [{gestational_age: {between: ["24+0", "27+6"]}}, {tag: [\xe7\x98\xa2\xe7\x97\x95\xe5\xad\x90\xe5\xae\xab]}]
        - icd10: [O24.4, O10-O16]
    do: [{push: {content: week-24}}]
""",
            )
        ]
    ).pathways[0]
    assert describe_condition(pathway.rules[0].when) == (
        "(gestational age between 24+0 and 27+6 and tag 瘢痕子宫) or ICD-10 O24.4* or O10–O16"
    )
    assert describe_condition(pathway.rules[0].when, ZH) == (
        "（孕周 介于 24+0至27+6且有标签瘢痕子宫）或诊断为 O24.4*或O10–O16"
    )


LOG = """
pathway: gdm-log
title: 妊娠期糖尿病管理
rules:
  - id: glucose-log
    every: {interval: 2w, from: {gestational_age: "24+0"}}
    do: [{questionnaire: {form: gdm-glucose-log}}]
  - id: ogtt
    at: {gestational_age: "23+4"}
    when: {not: {visit: ogtt}}
    do: [{remind: {content: visit-4}}]
  - id: epds-follow-up
    on: {event: questionnaire.submitted, form: epds}
    do: [{task: {title: 随访, assign: responsible_nurse}}]
"""


def _items():
    library = Library(compile_units([Unit("gdm-log.yaml", LOG.encode())]).pathways)
    shown = preview(library, persona_facts({"ga_today": "20+0", "today": "2026-03-02"}))
    return {item.row.rule: item for item in shown.items}


def test_why_is_a_sentence_a_doctor_would_say_with_titles_not_ids():
    items = _items()
    log = items["glucose-log"]
    assert why(log, ZH) == "孕24周起每2周一次，因为她在妊娠期糖尿病管理路径中"
    assert why(log) == "from week 24, every 2 weeks, because she is in the 妊娠期糖尿病管理 pathway"
    ogtt = items["ogtt"]
    assert why(ogtt, ZH) == "孕23+4周时，因为她在妊娠期糖尿病管理路径中，且尚未完成ogtt"
    assert "gdm-log" not in why(ogtt, ZH) and "fired" not in why(ogtt, ZH)


def test_an_event_trigger_names_the_form_by_its_title():
    from carepath.engine.preview import PreviewItem

    library = Library(compile_units([Unit("gdm-log.yaml", LOG.encode())]).pathways)
    rule = library.current["gdm-log"].rule("epds-follow-up")
    item = PreviewItem(
        row=_items()["glucose-log"].row,
        week=None,
        pathway_title="产后随访",
        rule_title="",
        trigger=rule.trigger,
    )
    titles = Titles(forms={"epds": "爱丁堡产后抑郁量表"})
    assert why(item, ZH, titles) == "她提交《爱丁堡产后抑郁量表》后，因为她在产后随访路径中"
    assert (
        why(item, titles=titles)
        == "when she submitted 爱丁堡产后抑郁量表, because she is in the 产后随访 pathway"
    )


def test_a_dry_run_row_is_explained_from_the_library_it_ran() -> None:
    from carepath.engine.simulate import dry_run

    library = Library(compile_units([Unit("gdm-log.yaml", LOG.encode())]).pathways)
    facts = persona_facts({"ga_today": "20+0", "today": "2026-03-02"})
    assert facts.edd is not None
    until = preview(library, facts).until
    rows = {row.rule: row for row in dry_run(library, facts, until=until)}
    assert row_why(rows["glucose-log"], library, ZH) == "孕24周起每2周一次，因为她在妊娠期糖尿病管理路径中"
    assert row_why(rows["glucose-log"], Library([])) == rows["glucose-log"].why  # not in the library


def test_the_school_and_booking_events_are_said_in_words() -> None:
    """Issue 16 item 4: a rule on a class or a cancelled visit is explained, not named by its type."""
    from carepath.engine.preview import PreviewItem
    from carepath.engine.spec import OnEvent

    said = {
        "class.booked": ("她预约孕妇学校课程时", "when she booked a class"),
        "class.cancelled": ("她预约的课程取消时", "when a class she booked was cancelled"),
        "class.attended": ("她参加课程后", "when she came to a class"),
        "course.completed": ("她完成一门课程时", "when she completed a course"),
        "appointment.cancelled": ("预约就诊取消时", "when a booked visit was cancelled"),
        "appointment.rescheduled": ("预约就诊改期时", "when a booked visit was moved"),
    }
    for kind, (chinese, english) in said.items():
        item = PreviewItem(_items()["glucose-log"].row, None, "孕妇学校", "", OnEvent(kind))
        assert why(item, ZH).startswith(chinese + "，"), kind
        assert why(item).startswith(english + ", "), kind


def test_a_confirmation_and_the_risk_confirmed_leaf_in_words() -> None:
    """Issue 16 item 5: a rule on risk.confirmed and a risk_confirmed leaf read as a doctor says them."""
    from carepath.engine.preview import PreviewItem

    text = """
pathway: graded
title: 风险分级
rules:
  - id: confirmed
    on: {event: risk.confirmed}
    when: {risk_confirmed: false}
    do: [{task: {title: 复核, assign: responsible_doctor}}]
"""
    library = Library(compile_units([Unit("graded.yaml", text.encode())]).pathways)
    rule = library.current["graded"].rule("confirmed")
    assert describe_condition(rule.when) == "risk grade confirmed = no (suggested, to be confirmed)"
    assert describe_condition(rule.when, ZH) == "风险分级已确认 = 否（系统建议，待确认）"
    item = PreviewItem(
        row=_items()["glucose-log"].row,
        week=None,
        pathway_title="风险分级",
        rule_title="",
        trigger=rule.trigger,
    )
    assert why(item, ZH).startswith("医生确认风险分级时")


def test_a_medication_condition_and_its_events_are_said_by_the_medication_name() -> None:
    """Issue 16 item 9: 正在使用胰岛素, a medication by its name; a hospital's own code as it is."""
    from carepath.engine.preview import PreviewItem
    from carepath.engine.spec import HasMedication, Not, OnEvent

    on_insulin = HasMedication(frozenset({"insulin", "metformin"}))
    assert describe_condition(on_insulin, ZH) == "正在使用胰岛素或二甲双胍"
    assert describe_condition(on_insulin) == "taking insulin or metformin"
    assert (
        describe_condition(Not(HasMedication(frozenset({"aspirin-low-dose"}))), ZH)
        == "未在使用小剂量阿司匹林"
    )
    assert describe_condition(HasMedication(frozenset({"our-own-drug"})), ZH) == "正在使用our-own-drug"
    said = {
        OnEvent("medication.prescribed"): ("医生为她开药时", "when a medication was prescribed"),
        OnEvent("medication.stopped", (("code", "iron"),)): (
            "她停用铁剂时",
            "when iron supplement was stopped",
        ),
    }
    for trigger, (chinese, english) in said.items():
        item = PreviewItem(_items()["glucose-log"].row, None, "妊娠期糖尿病管理", "", trigger)
        assert why(item, ZH).startswith(chinese + "，"), trigger
        assert why(item).startswith(english + ", "), trigger


def test_the_baby_leaves_and_the_newborn_events_are_said_in_words() -> None:
    """Issue 16 item 6: babies_alive, babies_lost, any_baby_lost and the newborn events, in Chinese."""
    from carepath.engine.preview import PreviewItem
    from carepath.engine.spec import AllOf, Compare, OnEvent

    congratulate = AllOf((Compare("any_baby_lost", "eq", False), Compare("babies_alive", "gte", 1)))
    assert describe_condition(congratulate, ZH) == "有宝宝离世 = 否（每个宝宝都健在）且健在的宝宝数 ≥ 1"
    assert describe_condition(congratulate) == "a baby lost = no (every baby alive) and babies alive ≥ 1"
    assert describe_condition(Compare("babies_lost", "gte", 1), ZH) == "失去的宝宝数 ≥ 1"
    assert (
        describe_condition(Compare("any_baby_lost", "eq", True), ZH)
        == "有宝宝离世 = 是（死产或宝宝出生后离世）"
    )
    for kind, chinese in [("newborn.registered", "新生儿登记时"), ("newborn.died", "新生儿离世时")]:
        item = PreviewItem(_items()["glucose-log"].row, None, "产后与新生儿随访", "", OnEvent(kind))
        assert why(item, ZH).startswith(chinese + "，"), kind


def test_the_loss_events_are_said_in_chinese() -> None:
    """Issue 16 item 7: a rule on loss.suspected / confirmed / rejected, in the doctor's words."""
    from carepath.engine.preview import PreviewItem

    text = """
pathway: loss-words
title: 妊娠丢失
rules:
  - {id: suspected, on: {event: loss.suspected}, do: [{task: {title: 确认, assign: responsible_doctor}}]}
  - {id: confirmed, on: {event: loss.confirmed}, do: [{task: {title: 关怀, assign: responsible_nurse}}]}
  - {id: rejected, on: {event: loss.rejected}, do: [{task: {title: 复核, assign: responsible_doctor}}]}
"""
    library = Library(compile_units([Unit("loss-words.yaml", text.encode())]).pathways)
    said = {}
    for rule_id in ("suspected", "confirmed", "rejected"):
        rule = library.current["loss-words"].rule(rule_id)
        item = PreviewItem(
            row=_items()["glucose-log"].row,
            week=None,
            pathway_title="妊娠丢失",
            rule_title="",
            trigger=rule.trigger,
        )
        said[rule_id] = why(item, ZH)
    assert said["suspected"].startswith("怀疑妊娠丢失时（暂停给她的所有消息）")
    assert said["confirmed"].startswith("医生确认妊娠丢失时")
    assert said["rejected"].startswith("医生排除妊娠丢失时（恢复给她的消息）")


def test_the_weight_gain_leaf_is_said_in_words() -> None:
    """Issue 16 item 9: weight_gain_status as a doctor says it, in Chinese and in English."""
    from carepath.engine.spec import Compare

    above = Compare("weight_gain_status", "in", ("above",))
    assert describe_condition(above, ZH) == "孕期增重高于推荐范围"
    assert describe_condition(above) == "weight gain above the recommended range"
    assert describe_condition(Compare("weight_gain_status", "eq", "below"), ZH) == "孕期增重低于推荐范围"
    assert describe_condition(Compare("weight_gain_status", "eq", "within"), ZH) == "孕期增重在推荐范围内"
    either = Compare("weight_gain_status", "in", ("below", "above"))
    assert (
        describe_condition(either)
        == "weight gain below the recommended range or weight gain above the recommended range"
    )


TITLED = b"""
pathway: t
title: t
rules:
  - id: r
    on: enrolled
    when:
      any:
        - lab: {code: bp_systolic, gte: 160}
        - answer: {form: bp-log, item: symptoms, contains: headache}
        - event: {field: data.code, startswith: O15}
        - icd10: [O24]
    do: [{push: {content: week-24}}]
"""


def test_a_condition_names_labs_form_items_choices_and_diagnoses_by_their_titles(app) -> None:
    # issue 20: "化验 bp_systolic ≥ 160" is read by a nurse; she reads "收缩压 ≥ 160 mmHg"
    when = compile_units([Unit("t.yaml", TITLED)]).pathways[0].rules[0].when
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from carepath.webapi.staff.editor_preview import titles

        named = titles()
    said = describe_condition(when, ZH, named)
    assert "收缩压 ≥ 160 mmHg" in said
    assert "家庭血压记录「现在有没有以下感觉（可多选）」 包含 「头痛」" in said
    assert "子痫（O15）" in said and "妊娠合并糖尿病（O24）" in said
    for word in ("bp_systolic", "bp-log", "headache", "化验", "问卷答案", "data.code", "事件字段"):
        assert word not in said, word
    # without titles the ids stay (the engine's record, the CLI)
    assert "bp_systolic" in describe_condition(when, ZH)
