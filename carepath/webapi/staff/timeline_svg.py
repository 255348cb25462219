"""A persona's preview as a picture: an SVG timeline by gestational week, rendered on the server.

The x axis runs from 4 to 42 weeks, with a band on the right for what comes after (the
puerperium); one lane per pathway, in the order the pathways first act; one mark per action,
its colour and shape by kind, with a ``<title>`` that browsers show as a tooltip: when, what,
and why. Each mark carries ``data-index``, its position in ``Preview.items``, for the page to
open the rendered message on a click.

Every piece of text is escaped (pathway titles, content keys and reasons come from authors,
and a ``<script>`` in a title must stay text). The output depends on the preview only: same
preview, same bytes, so it can be cached and golden-checked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from html import escape

from carepath.engine.clock import DAYS_PER_WEEK
from carepath.engine.preview import Preview, PreviewItem

FIRST_WEEK, LAST_WEEK = 4, 42
AFTER_WEEKS = 4  # width of the band after 42 weeks, in weeks of the axis
LABEL_WIDTH = 190
WEEK_WIDTH = 22.0
LANE_HEIGHT = 30
TOP = 34
LEGEND_HEIGHT = 34
FONT = "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', sans-serif"

#: Kind -> (fill colour, shape, label). Colours are told apart by shape too.
KINDS: dict[str, tuple[str, str, str]] = {
    "push": ("#2563eb", "circle", "课程 push"),
    "questionnaire": ("#059669", "square", "问卷 questionnaire"),
    "remind": ("#d97706", "diamond", "提醒 remind"),
    "task": ("#dc2626", "triangle", "任务 task"),
    "tag": ("#6b7280", "circle", "标签 tag"),
    "risk": ("#7c3aed", "diamond", "风险 risk"),
    "enroll": ("#0d9488", "ring", "入组 enroll"),
}
_OTHER = ("#374151", "circle", "other")


def _x(week: float) -> float:
    shown = min(max(week, FIRST_WEEK), LAST_WEEK + AFTER_WEEKS - 0.5)
    return LABEL_WIDTH + (shown - FIRST_WEEK) * WEEK_WIDTH


def _num(value: float) -> str:
    """Fixed formatting: the same picture gives the same bytes."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _week_of(item: PreviewItem) -> float:
    """Her gestational age at the action in weeks (with days as a fraction); after 42 weeks
    the marks go in the band on the right, spread by how long after."""
    text = item.row.gestational_age
    if not text:
        return float(FIRST_WEEK)
    weeks, _, days = text.partition("+")
    value = int(weeks) + int(days or 0) / DAYS_PER_WEEK
    if value >= LAST_WEEK:
        return LAST_WEEK + min((value - LAST_WEEK) / 3, AFTER_WEEKS - 0.6)
    return value


def _mark(shape: str, x: float, y: float, fill: str) -> str:
    r = 5.5
    if shape == "square":
        corner = f'x="{_num(x - r)}" y="{_num(y - r)}"'
        return f'<rect {corner} width="{_num(2 * r)}" height="{_num(2 * r)}" fill="{fill}"/>'
    if shape in ("diamond", "triangle"):
        top, right, left = (x, y - r - 1), (x + r + 1, y), (x - r - 1, y)
        bottom = [(x, y + r + 1)]
        if shape == "triangle":
            right, left, bottom = (x + r + 1, y + r), (x - r - 1, y + r), []
        corners = [top, right, *bottom, left]
        points = " ".join(f"{_num(px)},{_num(py)}" for px, py in corners)
        return f'<polygon points="{points}" fill="{fill}"/>'
    if shape == "ring":
        centre = f'cx="{_num(x)}" cy="{_num(y)}"'
        return f'<circle {centre} r="{_num(r - 1)}" fill="#ffffff" stroke="{fill}" stroke-width="2.5"/>'
    return f'<circle cx="{_num(x)}" cy="{_num(y)}" r="{_num(r)}" fill="{fill}"/>'


def _text_width(text: str) -> float:
    """Roughly how wide a label is at 12 px: CJK characters are square, Latin ones narrow."""
    return sum(12.0 if ord(ch) > 0x2E80 else 6.6 for ch in text)


def fired(item: PreviewItem) -> str:
    """The engine's record of the firing, with ids: what a mark says when the page gives no
    sentence of its own (the pages say why in words: ``webapi/staff/preview_text.py``)."""
    return f"{item.row.pathway}/{item.row.rule} fired: {item.row.why}"


def tooltip(item: PreviewItem, why: Callable[[PreviewItem], str] = fired) -> str:
    """What the mark says on hover: when, what, why (plain text; escaped where it is used)."""
    row = item.row
    when = f"{row.gestational_age or '—'} · {row.at.strftime('%Y-%m-%d %H:%M')}"
    what = f"{row.action}: {row.summary}" if row.summary else row.action
    status = "" if row.status == "due" else f" ({row.status})"
    return f"{when}\n{item.pathway_title} · {item.rule_title}\n{what}{status}\n{why(item)}"


def timeline_svg(preview: Preview, *, title: str = "", why: Callable[[PreviewItem], str] = fired) -> str:
    """The SVG document (UTF-8 text) of a preview; ``why`` says why each action happens."""
    lanes: list[tuple[str, str]] = []  # (pathway id, title), in the order they first act
    for item in preview.items:
        if item.row.pathway not in [lane for lane, _ in lanes]:
            lanes.append((item.row.pathway, item.pathway_title))
    lane_of = {pathway: n for n, (pathway, _) in enumerate(lanes)}
    width = LABEL_WIDTH + (LAST_WEEK - FIRST_WEEK + AFTER_WEEKS) * WEEK_WIDTH + 16
    plot_bottom = TOP + max(len(lanes), 1) * LANE_HEIGHT
    height = plot_bottom + 26 + LEGEND_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" font-family="{escape(FONT)}" font-size="12" role="img">',
        f"<title>{escape(title or f'{preview.pregnancy_id} 孕期时间线 / pregnancy timeline')}</title>",
        f'<rect width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>',
    ]
    if title:
        parts.append(f'<text x="8" y="18" font-size="14" font-weight="bold">{escape(title)}</text>')
    for n, (_, lane_title) in enumerate(lanes):
        y = TOP + n * LANE_HEIGHT
        fill = "#f8fafc" if n % 2 == 0 else "#ffffff"
        parts.append(f'<rect x="0" y="{y}" width="{_num(width)}" height="{LANE_HEIGHT}" fill="{fill}"/>')
        parts.append(
            f'<text x="8" y="{y + LANE_HEIGHT // 2 + 4}" fill="#111827">{escape(_shorten(lane_title))}'
            f"<title>{escape(lane_title)}</title></text>"
        )
    for week in range(FIRST_WEEK, LAST_WEEK + 1):
        x = _x(week)
        strong = week % 4 == 0
        parts.append(
            f'<line x1="{_num(x)}" y1="{TOP}" x2="{_num(x)}" y2="{plot_bottom}" '
            f'stroke="{"#cbd5e1" if strong else "#eef2f7"}" stroke-width="1"/>'
        )
        if strong or week == LAST_WEEK:
            label = f'x="{_num(x)}" y="{plot_bottom + 14}"'
            parts.append(f'<text {label} text-anchor="middle" fill="#374151">{week}</text>')
    after = _x(LAST_WEEK)
    parts.append(
        f'<rect x="{_num(after)}" y="{TOP}" width="{_num(AFTER_WEEKS * WEEK_WIDTH)}" '
        f'height="{plot_bottom - TOP}" fill="#fdf4ff" opacity="0.6"/>'
    )
    parts.append(
        f'<text x="{_num(after + AFTER_WEEKS * WEEK_WIDTH / 2)}" y="{TOP - 6}" text-anchor="middle" '
        f'fill="#374151">产后 / after 42w</text>'
    )
    axis = f'x="{LABEL_WIDTH - 16}" y="{plot_bottom + 14}"'
    parts.append(f'<text {axis} text-anchor="end" fill="#374151">孕周 week</text>')
    stacked: Counter[tuple[int, int]] = Counter()
    for index, item in enumerate(preview.items):
        lane = lane_of[item.row.pathway]
        at_week = _week_of(item)
        slot = (lane, round(at_week * DAYS_PER_WEEK))
        offset = stacked[slot]
        stacked[slot] += 1
        mark_y = TOP + lane * LANE_HEIGHT + LANE_HEIGHT / 2 + (0, -8, 8)[offset % 3]
        mark_x = _x(at_week) + 6 * (offset // 3)  # marks on one day stack, then step right
        fill, shape, _ = KINDS.get(item.row.action, _OTHER)
        opacity = "" if item.row.status == "due" else ' opacity="0.35"'
        parts.append(
            f'<g class="mark" data-index="{index}" data-kind="{escape(item.row.action)}"{opacity}>'
            f"<title>{escape(tooltip(item, why))}</title>{_mark(shape, mark_x, mark_y, fill)}</g>"
        )
    legend_y = plot_bottom + 40
    legend_x = 8.0
    for fill, shape, label in KINDS.values():
        parts.append(_mark(shape, legend_x + 6, legend_y - 4, fill))
        parts.append(f'<text x="{_num(legend_x + 16)}" y="{legend_y}" fill="#374151">{escape(label)}</text>')
        legend_x += 30 + _text_width(label)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _shorten(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
