"""The message catalogue: every sentence the compiler, the lint and the preview say, in English.

``SENTENCES`` maps a key to its English template. A key is ``<code>/<sentence>`` for a
sentence one stable code says (``bad-duration/every-daily``), or ``<family>/<name>`` for a
phrase several share (``schema/…`` the schema pass, ``value/…`` how a value is named,
``jsonschema/…``, ``yaml/…``, ``date/…`` other libraries' words). ``CODE_TITLES`` says
in a few words what each stable code means. Templates are ``str.format`` with named fields;
the English must give back, byte for byte, what the checkers said before there was a
catalogue (the goldens and the CLI's output depend on it).

``make translations`` extracts both tables (the ``sentence`` and ``meaning`` markers, the key
as gettext's context) into the staff UI's catalogue, where the Chinese is written;
``tests/engine/test_sentences.py`` fails when a code or a sentence lacks its Chinese.
"""

from __future__ import annotations


def sentence(key: str, english: str) -> tuple[str, str]:
    """Marks a catalogue sentence for extraction (``pybabel -k sentence:1c,2``)."""
    return key, english


def meaning(code: str, english: str) -> tuple[str, str]:
    """Marks what a stable code means, for extraction (``pybabel -k meaning:1c,2``)."""
    return code, english


SENTENCES: dict[str, str] = dict(
    [
        # --- loading a file -------------------------------------------------------------
        sentence("file-too-large/size", "{size:,} bytes; the limit is {limit:,}"),
        sentence("not-utf8/file", "the file must be UTF-8 text"),
        sentence("empty-file/empty", "the file is empty"),
        sentence("empty-file/no-value", "the file holds no value"),
        sentence("not-found/unreadable", "cannot read the file: {reason}"),
        sentence("missing-file/none", "no such file"),
        sentence("bad-encoding/byte", "not UTF-8 (byte {byte})"),
        sentence("unreadable/os", "{reason}"),
        sentence("unknown-file/kind", "expected .md or .yaml"),
        sentence("yaml-syntax/parser", "{problem}"),
        sentence("yaml-syntax/unknown-alias", "unknown alias *{anchor}"),
        sentence("duplicate-key/twice", "{key!r} appears twice here"),
        sentence("bad-date/not-real", "{text!r} is not a real date ({reason})"),
        sentence("bad-date/not-real-time", "{text!r} is not a real date and time ({reason})"),
        sentence("too-large/nodes", "more than {limit:,} nodes once expanded"),
        sentence("bad-key/plain-word", "a mapping key must be a plain word"),
        sentence("yaml-tag/not-allowed", "the tag {tag!r} is not allowed; write plain values"),
        sentence("too-deep/levels", "nested more than {limit} levels"),
        sentence("multiple-documents/one", "one YAML document per file"),
        sentence("too-many-aliases/limit", "more than {limit} aliases"),
        # PyYAML's words (the commonest; anything else is shown as written)
        sentence("yaml/mapping-values", "mapping values are not allowed here"),
        sentence("yaml/no-colon", "could not find expected ':'"),
        sentence("yaml/no-key", "did not find expected key"),
        sentence("yaml/no-dash", "did not find expected '-' indicator"),
        sentence("yaml/no-content", "did not find expected node content"),
        sentence("yaml/end-of-stream", "found unexpected end of stream"),
        sentence("yaml/bad-character", "found character {char} that cannot start any token"),
        sentence("yaml/unexpected-colon", "found unexpected ':'"),
        sentence("yaml/undefined-alias", "found undefined alias {name}"),
        sentence("yaml/expected", "expected {expected}, but found {found}"),
        sentence("yaml/other", "{detail}"),
        # Python's words for an impossible date
        sentence("date/day-out-of-range", "day is out of range for month"),
        sentence("date/month-out-of-range", "month must be in 1..12"),
        sentence("date/hour-out-of-range", "hour must be in 0..23"),
        sentence("date/minute-out-of-range", "minute must be in 0..59"),
        sentence("date/second-out-of-range", "second must be in 0..59"),
        sentence("date/reason", "{detail}"),
        # --- the schema pass ------------------------------------------------------------
        sentence("schema/unknown-key", "unknown key {key!r}{suggestion}"),
        sentence("schema/unknown-operator", "unknown operator {key!r}{suggestion}"),
        sentence("schema/unknown-action", "unknown action {key!r}{suggestion}"),
        sentence("schema/did-you-mean", " (did you mean {choice!r}?)"),
        sentence("schema/with-hint", "{sentence}; {hint}"),
        sentence("schema/required", "{name!r} is required here"),
        sentence("schema/type", "expected {wanted}, found {found}"),
        sentence("schema/enum", "{found} is not one of: {choices}{suggestion}"),
        sentence("schema/pattern", "{found} is not valid"),
        sentence("schema/shape", "this does not fit the language"),
        sentence("schema/empty", "this must not be empty"),
        sentence("schema/too-long", "{length:,} characters; at most {limit:,} allowed here"),
        sentence("schema/too-many", "at most {limit} allowed here"),
        sentence("schema/one-per-item", "write one entry per list item"),
        sentence("schema/duplicate-item", "each entry may appear only once"),
        sentence("value/boolean", "the boolean {value}"),
        sentence("value/number", "the number {value}"),
        sentence("value/text", "the text {value!r}"),
        sentence("value/list", "a list"),
        sentence("value/mapping", "a mapping"),
        sentence("value/nothing", "nothing"),
        sentence("value/other", "{kind}"),
        sentence("type/string", "text"),
        sentence("type/number", "a number"),
        sentence("type/integer", "a whole number"),
        sentence("type/boolean", "true or false"),
        sentence("type/object", "a mapping"),
        sentence("type/array", "a list"),
        sentence("type/or", "{first} or {second}"),
        # jsonschema's own words (content and form front matter, ranges)
        sentence("jsonschema/minimum", "{value} is less than the minimum of {limit}"),
        sentence("jsonschema/maximum", "{value} is greater than the maximum of {limit}"),
        sentence("jsonschema/required", "{name} is a required property"),
        sentence("jsonschema/type", "{value} is not of type {types}"),
        sentence("jsonschema/enum", "{value} is not one of {choices}"),
        sentence("jsonschema/pattern", "{value} does not match {pattern}"),
        sentence("jsonschema/too-short", "{value} is too short"),
        sentence("jsonschema/too-long", "{value} is too long"),
        sentence("jsonschema/non-empty", "{value} should be non-empty"),
        sentence("jsonschema/const", "{value} was expected"),
        sentence("jsonschema/unique", "{value} has non-unique elements"),
        sentence("jsonschema/additional", "Additional properties are not allowed ({names} was unexpected)"),
        sentence("jsonschema/other", "{detail}"),
        # --- the pathway compiler -------------------------------------------------------
        sentence("type-mismatch/pathway-file", "a pathway file is a mapping"),
        sentence("duplicate-rule/used", "rule id {rule!r} is already used at line {line}"),
        sentence("duplicate-pathway/also", "pathway {pathway!r} is also defined in {path}"),
        sentence(
            "unknown-tag/pathway",
            "tag {tag!r} is not in the tag vocabulary or this pathway's tags:{suggestion}",
        ),
        sentence("unknown-lab/catalogue", "no lab {lab!r} in the lab catalogue{suggestion}"),
        sentence("unknown-content/item", "no content item {key!r}{suggestion}"),
        sentence("unknown-form/form", "no form {form!r}{suggestion}"),
        sentence("unknown-item/form", "form {form!r} has no item {item!r}{suggestion}"),
        sentence(
            "unknown-icd10/catalogue",
            "{code!r} matches no code of the ICD-10 catalogue (pathways/icd10.csv); "
            "check the code, or add it to the catalogue",
        ),
        sentence("unknown-pathway/pathway", "no pathway {pathway!r}{suggestion}"),
        sentence(
            "out-of-range/lab-threshold",
            "{value:g} is outside the plausible range of {lab} ({low:g}–{high:g} {unit}); check the unit",
        ),
        sentence("type-mismatch/answer", "{form}.{item} is a {item_type}; it is compared with a {compared}"),
        sentence("json-type/number", "number"),
        sentence("json-type/string", "string"),
        sentence("json-type/date", "date"),
        sentence("json-type/list", "list"),
        sentence("json-type/boolean", "boolean"),
        sentence("empty-range/until", "until is not after from; the rule never fires"),
        sentence("bad-duration/every-daily", "every runs at most daily, in whole days or weeks"),
        sentence("unknown-key/event-field", "{event} events have no field {field!r}{suggestion}"),
        sentence("catch-up-not-applicable/timed", "{key} applies to at and every rules only"),
        sentence("bad-value/tag-added-and-removed", "a tag cannot be added and removed by the same action"),
        sentence("missing-key/risk", "a risk action sets a colour or purple"),
        sentence("schedule-conflict/after-or-at", "use after or at, not both"),
        sentence("slot-unscheduled/add-after", "a slot only replaces scheduled actions; add after or at"),
        sentence(
            "possible-loop/rules",
            "these rules can trigger each other: {rules}; at run time a chain stops at depth 8",
        ),
        sentence("type-mismatch/text-op", "{op} compares text; {fact} is not text"),
        sentence("type-mismatch/unordered", "{fact} has no order; use eq, ne or in"),
        sentence("type-mismatch/purple", "purple stands beside the colours; it has no order"),
        sentence("type-mismatch/mixed", "the values compared here are of different types"),
        sentence("empty-range/between", "between's low end is above its high end"),
        sentence("empty-range/bounds", "these bounds exclude every value; the leaf is never true"),
        sentence(
            "empty-range/icd10", "{range!r}: a range runs from a lower to a higher category of one letter"
        ),
        # --- patient and events files, dating -------------------------------------------
        sentence("out-of-range/para", "para {para} cannot exceed previous pregnancies ({previous})"),
        sentence("bad-value/delivery-date", "a delivery date belongs to status delivered"),
        sentence(
            "implausible-lab/range",
            "{lab} {value:g} {unit} is outside the plausible range {low:g}–{high:g}; "
            "check the value and its unit",
        ),
        sentence("duplicate-event/also", "event id {event!r} is also event {number}"),
        sentence("bad-unit/recorded-in", "{lab} is recorded in {unit}, not {given}"),
        sentence(
            "bad-gestational-age/not-ga", "{text!r} is not a gestational age; write weeks+days such as '24+3'"
        ),
        sentence("bad-gestational-age/days", "{text!r}: the days after '+' must be 0 to 6"),
        sentence("bad-gestational-age/too-long", "{text!r} is beyond 44+6, longer than any pregnancy"),
        sentence("bad-gestational-age/scan", "ultrasound GA of {days} days is outside 0+0–44+6"),
        sentence(
            "bad-cycle-length/range",
            "cycle length {days} days is outside {low}–{high}; the LMP cannot date this pregnancy",
        ),
        sentence(
            "bad-embryo-day/three-or-five", "embryo day {day}: only day-3 and day-5 transfers can be dated"
        ),
        sentence(
            "bad-scan-date/outside",
            "the scan falls at {ga} by dates, outside 0+0–44+6; "
            "the scan date or the dates it is compared with are wrong",
        ),
        sentence("incomplete-dating/cycle", "a cycle length was given without an LMP"),
        sentence("incomplete-dating/pair", "{given} was given without {missing}"),
        sentence("dating/scan-date", "an ultrasound date"),
        sentence("dating/scan-ga", "its gestational age"),
        sentence("dating/transfer-date", "a transfer date"),
        sentence("dating/embryo-day", "the embryo day"),
        sentence(
            "no-dating/nothing",
            "nothing to date the pregnancy by: give an LMP, an ultrasound, an IVF transfer or an EDD",
        ),
        sentence("row/problem", "row {line}: {problem}"),
        # --- the preview's persona ------------------------------------------------------
        sentence("persona/field", "{field}: {problem}"),
        sentence("missing-key/ga-today", "'ga_today' needs 'today', the day she is at that age"),
        sentence("bad-date/persona", "{value!r} is not a date (YYYY-MM-DD)"),
        sentence("out-of-range/age", "age must be a whole number of years from 10 to 65, not {age!r}"),
        sentence("no-dating/age", "'age' needs 'lmp', 'ga_today' or 'edd' to count from"),
        # --- content items and forms ----------------------------------------------------
        sentence("missing-front-matter/start", "the file must start with '---'"),
        sentence("missing-front-matter/close", "the front matter has no closing '---'"),
        sentence("bad-front-matter/inner", "{code}: {problem}"),
        sentence("bad-front-matter/mapping", "the front matter must be a mapping"),
        sentence("content-schema/field", "{field}: {detail}"),
        sentence("duplicate-key/content", "{key}"),
        sentence("form-schema/mapping", "a form must be a mapping"),
        sentence("form-schema/field", "{field}: {detail}"),
        sentence("bad-item-id/reserved", "item id {item!r} is reserved or repeated"),
        sentence("duplicate-choice/repeated", "{item}: repeated choice value"),
        sentence("bad-range/min-max", "{item}: range is [min, max]"),
        sentence("bad-answer/not-a-choice", "{item}: the answer is not a choice"),
        sentence("bad-answer/single", "{item}: one answer for 'single'"),
        sentence("missing-answer/exam", "exam item {item} has no right answer"),
        sentence("bad-scoring/not-a-choice", "{item}: not a choice item"),
        sentence("bad-scoring/every-choice", "{item}: every choice needs a score"),
        sentence("bad-scoring/exam", "an exam is scored with method 'correct'"),
        sentence("bad-band/overlap", "band {band} overlaps or is empty"),
        sentence("form-id-mismatch/stem", "{form} != {stem}"),
        sentence("form-id-mismatch/in-file", "form {form!r} is in {file}"),
        sentence("key-mismatch/stem", "key {key!r} in {stem}.md"),
        sentence("missing-section/heading", "{kind} items need '## {section}'"),
        sentence("content-kind/weekly", "weekly"),
        sentence("content-kind/visit", "visit"),
        sentence("content-kind/condition", "condition"),
        sentence("content-kind/topic", "topic"),
        sentence("audience-mismatch/weeks", "expected weeks: [{week}, {week}]"),
        sentence("broken-link/target", "no content item {key!r}"),
        sentence("unknown-source/not-listed", "{source!r} is not in {file}"),
        sentence("sensitive-unmarked/body", "the body names {words}; set sensitive: true"),
        sentence("sensitive-summary/lock-screen", "the summary may show on a lock screen but names {words}"),
        sentence("celebrates-unmarked/words", "the text congratulates her ({words}); set celebrates: true"),
        sentence("unknown-tag/form-choice", "{item}.{choice}: tag {tag!r} is not in the tag vocabulary"),
        sentence("bad-template/part", "{part}: {detail}"),
        sentence("part/title", "title"),
        sentence("part/summary", "summary"),
        sentence("part/body", "body"),
        sentence("template/syntax", "template syntax: {detail}"),
        sentence("template/unsafe-fact", "'{name}' is not a safe fact (allowed: {allowed})"),
        sentence("template/render", "render: {detail}"),
        sentence("template/other", "{detail}"),
        # --- issue 16 item 2: time relative to an event (i16-events) ------------------------
        sentence(
            "bad-event-time/no-event",
            "event_time takes a time of the triggering event; this rule has none "
            "(write 'on: {{event: TYPE}}')",
        ),
        sentence(
            "bad-event-time/not-carried",
            "{event} events carry no date and time {field!r}{suggestion}; their times: {times}",
        ),
        sentence("bad-event-time/no-times", "{event} events carry no date and time to schedule on"),
        sentence("bad-event-time/not-a-time", "{field!r} of {event} events is not a date and time"),
        # --- issue 16 item 3: a form named by the event (i16-events) ------------------------
        sentence(
            "bad-event-form/no-event",
            "event_field takes a form the triggering event names; this rule has none "
            "(write 'on: {{event: TYPE}}')",
        ),
        sentence(
            "bad-event-form/not-carried",
            "{event} events name no form in {field!r}{suggestion}; their forms: {fields}",
        ),
        sentence("bad-event-form/no-forms", "{event} events name no form"),
        sentence("bad-event-form/not-a-form", "{field!r} of {event} events does not name a form"),
        # --- a document of the hospital's library (store/library_files.py) -----------------
        sentence("too-large/document", "larger than {kb} KB"),
        sentence("name-mismatch/pathway", "this is pathway {name!r}, not {compiled!r}"),
        # --- how a line is printed ------------------------------------------------------
        sentence("line/warning", "warning: "),
        # --- issue 16 item 1: urgent messages --------------------------------------------
        sentence(
            "urgent-not-safety-advice/content",
            "urgent is only for safety advice; the review of content item {key!r} does not mark it so",
        ),
        sentence(
            "urgent-not-safety-advice/form",
            "urgent is only for safety advice; the review of form {form!r} does not mark it so",
        ),
        sentence(
            "schedule-conflict/urgent", "an urgent message goes at its trigger's time; drop after and at"
        ),
    ]
)

#: Each ``x-hint`` of ``carepath/schemas/*.schema.json`` -> its catalogue key.
HINTS: dict[str, str] = {}
for _key, _hint in [
    sentence("hint/id", "ids are lowercase letters, digits and hyphens, such as 'gdm-welcome'"),
    sentence("hint/ga-24", "write weeks+days from 0+0 to 44+6, such as '24+0'"),
    sentence("hint/ga-9", "write weeks+days from 0+0 to 44+6, such as '9+3'"),
    sentence("hint/duration", "write a number and a unit: '12h', '3d' or '2w'"),
    sentence(
        "hint/point",
        "a point in her pregnancy: {{gestational_age: '24+0'}}, {{edd: -14d}}, {{delivery_date: 6w}} "
        "or {{enrolled: 2w}}",
    ),
    sentence("hint/offset", "write a number and a unit, negative for before: '-14d', '2w'"),
    sentence("hint/offset-after", "write a number and a unit: '0d', '6w'"),
    sentence(
        "hint/condition",
        "a condition names facts (gestational_age, icd10, tag, ...) or combines them with all, any, not",
    ),
    sentence("hint/between", "between takes [low, high], both inclusive"),
    sentence("hint/ga-range", "e.g. {{gte: '24+0', lt: '28+0'}}"),
    sentence("hint/between-example", "e.g. {{between: [24, 27]}}"),
    sentence("hint/icd10-pattern", "an ICD-10 code or prefix such as 'O24.4', or a range such as 'O10-O16'"),
    sentence("hint/visit", "a visit kind such as 'ogtt' or 'anc-contact'"),
    sentence("hint/number", "e.g. {{gte: 35}}"),
    sentence("hint/answer", "e.g. {{form: epds, item: score, gte: 13}}"),
    sentence("hint/lab", "e.g. {{code: hb, lt: 110}}"),
    sentence("hint/event-field", "a field of the triggering event such as 'data.mode'"),
    sentence("hint/event", "e.g. {{field: data.mode, eq: caesarean}}"),
    sentence("hint/actions", "one of push, questionnaire, remind, task, tag, risk, enroll"),
    sentence("hint/on", "write 'on: enrolled' or 'on: {{event: TYPE, FIELD: VALUE}}'"),
    sentence(
        "hint/event-filter", "an event filter compares one field of the event's data with a plain value"
    ),
    sentence("hint/trigger", "a rule has exactly one trigger: on, at or every"),
    sentence("hint/event-id", "letters, digits and . _ : - only"),
    sentence(
        "hint/engine-events", "risk.changed, enrolled and exited are raised by the engine, never posted"
    ),
    sentence("hint/datetime", "a date and time with its UTC offset, such as 2026-07-10T15:00:00+08:00"),
    sentence(
        "hint/id-number",
        "the number of the document id_type names (resident: the 18-character resident ID number)",
    ),
    sentence("hint/phone", "digits only, such as 13812345678"),
    sentence("hint/patient-id", "give his_id, id_number or both"),
    sentence("hint/resident-id", "an 18-character resident ID number: 17 digits and a digit or X"),
    sentence("hint/hk-macao-taiwan", "18 characters beginning 810000, 820000 or 830000"),
    sentence("hint/foreigner", "18 characters beginning with 9"),
    sentence("hint/passport", "5 to 20 letters or digits"),
    sentence("hint/hk-macao-permit", "H or M and 8 or 10 digits"),
    sentence("hint/taiwan-permit", "8 or 10 digits"),
    sentence("hint/date", "a date such as 2026-03-06"),
    sentence("hint/icd10-code", "an ICD-10 code such as O24.401"),
    sentence("hint/dating", "give at least one of lmp, ultrasound, ivf or edd"),
    # issue 16 item 2 (i16-events)
    sentence(
        "hint/event-time-point",
        "a time of the triggering event and an offset: {{event_time: starts_at, offset: -1d}}",
    ),
    sentence("hint/event-time", "a date-time field of the triggering event's data, such as 'starts_at'"),
    # issue 16 item 3 (i16-events)
    sentence("hint/event-form", "the form the triggering event names: {{event_field: exam_form}}"),
    sentence(
        "hint/event-form-field",
        "a field of the triggering event's data that names a form, such as 'exam_form'",
    ),
]:
    SENTENCES[_key] = _hint
    HINTS[_hint.replace("{{", "{").replace("}}", "}")] = _key

#: What each stable code the compiler, the lint and the preview can emit means.
CODE_TITLES: dict[str, str] = dict(
    [
        meaning("file-too-large", "the file is too large"),
        meaning("not-utf8", "not UTF-8 text"),
        meaning("empty-file", "the file is empty"),
        meaning("not-found", "the file cannot be read"),
        meaning("missing-file", "no such file"),
        meaning("bad-encoding", "not UTF-8 text"),
        meaning("unreadable", "the file cannot be read"),
        meaning("unknown-file", "not a content item or a form"),
        meaning("yaml-syntax", "YAML syntax error"),
        meaning("duplicate-key", "a key appears twice"),
        meaning("bad-date", "not a real date"),
        meaning("bad-datetime", "not a date and time"),
        meaning("too-large", "too many nodes"),
        meaning("bad-key", "a key that is not a plain word"),
        meaning("yaml-tag", "a YAML tag"),
        meaning("too-deep", "nested too deep"),
        meaning("multiple-documents", "more than one YAML document"),
        meaning("too-many-aliases", "too many aliases"),
        meaning("unknown-key", "an unknown key"),
        meaning("unknown-operator", "an unknown operator"),
        meaning("unknown-action", "an unknown action"),
        meaning("missing-key", "a required key is missing"),
        meaning("type-mismatch", "a value of the wrong type"),
        meaning("bad-value", "a value that is not allowed"),
        meaning("empty", "empty where something is needed"),
        meaning("too-long", "too long"),
        meaning("too-many", "too many"),
        meaning("out-of-range", "out of range"),
        meaning("duplicate-item", "an entry appears twice"),
        meaning("bad-duration", "not a valid duration"),
        meaning("bad-gestational-age", "not a valid gestational age"),
        meaning("bad-id", "not a valid id"),
        meaning("bad-icd10", "not a valid ICD-10 code"),
        meaning("bad-event-id", "not a valid event id"),
        meaning("bad-his-id", "not a valid HIS id"),
        meaning("bad-pregnancy-id", "not a valid pregnancy id"),
        meaning("bad-phone", "not a valid phone number"),
        meaning("id-number-invalid", "not a valid ID number"),
        meaning("no-patient-id", "no patient id"),
        meaning("no-dating", "nothing to date the pregnancy by"),
        meaning("too-many-rules", "too many rules"),
        meaning("trigger-count", "not exactly one trigger"),
        meaning("unknown-event", "an unknown event type"),
        meaning("duplicate-rule", "a rule id is used twice"),
        meaning("duplicate-pathway", "a pathway id is used twice"),
        meaning("unknown-tag", "an unknown tag"),
        meaning("unknown-lab", "an unknown lab"),
        meaning("unknown-content", "an unknown content item"),
        meaning("unknown-form", "an unknown form"),
        meaning("unknown-item", "an unknown form item"),
        meaning("unknown-icd10", "an ICD-10 code the catalogue lacks"),
        meaning("unknown-pathway", "an unknown pathway"),
        meaning("empty-range", "a range that is never true"),
        meaning("catch-up-not-applicable", "catch-up on a rule that is not timed"),
        meaning("schedule-conflict", "after and at together"),
        meaning("slot-unscheduled", "a slot without a schedule"),
        meaning("possible-loop", "rules that may trigger each other"),
        meaning("bad-cycle-length", "a cycle length outside the usual range"),
        meaning("bad-embryo-day", "an embryo day that cannot be dated"),
        meaning("bad-scan-date", "a scan date that does not fit"),
        meaning("incomplete-dating", "half of a dating pair"),
        meaning("implausible-lab", "an implausible lab value"),
        meaning("duplicate-event", "an event id is used twice"),
        meaning("bad-unit", "the wrong unit"),
        meaning("missing-front-matter", "no front matter"),
        meaning("bad-front-matter", "bad front matter"),
        meaning("content-schema", "the front matter does not fit"),
        meaning("form-schema", "the form does not fit"),
        meaning("bad-item-id", "a reserved or repeated item id"),
        meaning("duplicate-choice", "a repeated choice"),
        meaning("bad-range", "a range the wrong way round"),
        meaning("bad-answer", "a right answer that is not a choice"),
        meaning("missing-answer", "an exam item without its answer"),
        meaning("bad-scoring", "scoring that does not fit"),
        meaning("bad-band", "an empty or overlapping band"),
        meaning("form-id-mismatch", "the form id and the file name differ"),
        meaning("key-mismatch", "the key and the file name differ"),
        meaning("missing-section", "a required section is missing"),
        meaning("audience-mismatch", "a weekly lesson for another week"),
        meaning("broken-link", "a link to no content item"),
        meaning("unknown-source", "an unknown source"),
        meaning("sensitive-unmarked", "sensitive words but not marked sensitive"),
        meaning("sensitive-summary", "a summary that names something private"),
        meaning("celebrates-unmarked", "congratulations not marked celebrates"),
        meaning("bad-template", "a template that fails"),
        meaning("name-mismatch", "the pathway id and the document name differ"),
        # issue 16 item 2 (i16-events)
        meaning("bad-event-time", "a time the triggering event does not carry"),
        # issue 16 item 3 (i16-events)
        meaning("bad-event-form", "a form the triggering event does not name"),
    ]
)

# --- issue 16 item 9: since leaves, the time since a date fact (engine/elapsed.py) ----------
SENTENCES.update(
    [
        sentence(
            "not-a-date/since", "{fact!r} is not a date; since measures the time from a date fact: {dates}"
        ),
        sentence("unknown-fact/since", "no date fact {fact!r}{suggestion}; the date facts are: {dates}"),
    ]
)
for _key, _hint in [
    sentence("hint/since", "e.g. {{fact: delivery_date, lt: 18mo}}"),
    sentence("hint/calendar-duration", "write a number and a unit: '10d', '6w', '18mo' or '2y'"),
]:
    SENTENCES[_key] = _hint
    HINTS[_hint.replace("{{", "{").replace("}}", "}")] = _key
CODE_TITLES.update(
    [
        meaning("not-a-date", "since on a fact that is not a date"),
        meaning("unknown-fact", "an unknown fact"),
        # --- issue 16 item 1: urgent messages --------------------------------------------
        meaning("urgent-not-safety-advice", "urgent on something not marked safety advice"),
    ]
)

# --- issue 16 item 5: suggested and confirmed colours (risk_confirmed leaf) -----------------
for _key, _hint in [
    sentence(
        "hint/risk-confirmed", "true (the colour she has now is confirmed) or false (it is a suggestion)"
    ),
]:
    SENTENCES[_key] = _hint
    HINTS[_hint] = _key

# issue 16 item 9 (medications): the medication vocabulary (engine/medications.py)
SENTENCES.update(
    [
        sentence(
            "unknown-medication/vocabulary",
            "medication {code!r} is not in the medication vocabulary{suggestion}",
        ),
    ]
)
for _key, _hint in [
    sentence("hint/medication", "a medication code such as 'insulin' or 'aspirin-low-dose'"),
]:
    SENTENCES[_key] = _hint
    HINTS[_hint] = _key
CODE_TITLES.update(
    [
        meaning("unknown-medication", "a medication not in the vocabulary"),
        meaning("bad-medication", "a medication code that does not fit"),
    ]
)

# issue 16 item 6 (babies): per-baby outcomes, newborn.registered and newborn.died
for _key, _hint in [
    sentence(
        "hint/any-baby-lost",
        "true (a stillbirth, or a baby who died after birth) or false (every baby alive)",
    ),
    sentence("hint/baby-id", "the baby's id in the HIS: letters, digits and . _ : - only"),
    sentence("hint/newborn-sex", "female, male or undetermined"),
    sentence("hint/birth-weight", "the birth weight in grams, from 100 to 8000"),
    sentence("hint/baby-index", "the baby's place among the delivery's newborns, from 1"),
]:
    SENTENCES[_key] = _hint
    HINTS[_hint] = _key
CODE_TITLES.update(
    [
        meaning("bad-newborn", "a newborn's id, sex, weight or place that does not fit"),
    ]
)

# issue 17 item 12: the dating_suboptimal leaf (clock.suboptimally_dated, ACOG CO 700)
for _key, _hint in [
    sentence(
        "hint/dating-suboptimal",
        "true (her dating rests on a first ultrasound at or after 22+0: suboptimally dated) or false",
    ),
]:
    SENTENCES[_key] = _hint
    HINTS[_hint] = _key

# issue 16 item 9 (weight gain): the weight_gain_status leaf (engine/weight_gain.py)
for _key, _hint in [
    sentence(
        "hint/weight-gain-status",
        "below, within or above the WS/T 801-2022 weight gain band for her pre-pregnancy BMI class"
        " (singletons only)",
    ),
]:
    SENTENCES[_key] = _hint
    HINTS[_hint] = _key
