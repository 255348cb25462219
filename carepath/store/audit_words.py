"""The audit log in words a hospital's auditor reads (issue 21 item 6): who, did what, to what.

The rows keep what the writers wrote (``scope.audit``, ``audit.record``): an actor label
(``staff:12``, ``integrator:3``, ``patient:7``, ``scheduler:on-call`` ...), a short action
(``read``, ``change`` ...) and an English detail. Here each becomes Chinese: staff by name,
integrators by their name, machines as 系统, the detail by a table of the writers' patterns.
A label, action or detail no table knows is still shown, readably (``其他操作（x）``, the raw
detail): writers added later (the desk registration, batches) never make the viewer fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable

ACTION_ZH = {
    "read": "查看",
    "list": "查看列表",
    "change": "修改",
    "export": "导出",
    "purge": "清理审计日志",
    "login": "登录",
    "logout": "退出登录",
    "login-failed": "登录失败",
    "login-locked": "登录被锁定",
    "account-locked": "账号锁定",
    "account-unlock": "账号解锁",
    "password-reset": "重置密码",
    "password-change": "修改密码",
    "role-change": "修改权限",
    "staff-create": "新建员工账号",
    "staff-disable": "停用员工账号",
    "staff-enable": "启用员工账号",
    "refused": "拒绝访问",
    "read-refused": "拒绝查看",
    "unmask": "查看完整信息",
    "grant": "授权共享",
    "batch": "批量操作",
    "register": "建档登记",
}

EVENT_ZH = {
    "patient.registered": "建档登记",
    "patient.updated": "更新基本信息",
    "dating.ultrasound": "B超核对孕周",
    "delivery": "分娩",
    "newborn.registered": "新生儿登记",
    "newborn.died": "新生儿死亡",
    "diagnosis.added": "新增诊断",
    "diagnosis.removed": "撤销诊断",
    "encounter.completed": "就诊完成",
    "lab.result": "检验结果",
    "pregnancy.ended": "妊娠结束",
    "loss.suspected": "疑似妊娠丢失",
    "loss.confirmed": "确认妊娠丢失",
    "loss.rejected": "排除妊娠丢失",
    "questionnaire.submitted": "提交问卷",
    "tag.added": "添加标签",
    "tag.removed": "移除标签",
    "risk.confirmed": "确认风险分级",
    "plan.enrol_requested": "申请加入管理方案",
    "plan.end_requested": "申请结束管理方案",
    "medication.prescribed": "开具药物",
    "medication.stopped": "停用药物",
    "appointment.booked": "预约就诊",
    "appointment.attended": "按时就诊",
    "appointment.missed": "未按时就诊",
    "appointment.cancelled": "取消预约",
    "appointment.rescheduled": "改约",
    "class.booked": "预约孕妇学校课程",
    "class.cancelled": "取消课程预约",
    "class.attended": "参加课程",
    "course.completed": "完成课程",
}

#: What a machine actor is, by the kind of its label (the part before the colon).
SYSTEM_ZH = {
    "scheduler": "定时任务",
    "cli": "命令行",
    "sms-reply": "短信回复",
    "sms-callback": "短信回调",
    "router": "值班通知",
    "system": "系统",
}
REQUEST_OUTCOME_ZH = {
    "received": "已收到",
    "in review": "开始处理",
    "done": "已办理",
    "refused": "未予办理",
    "deletion received": "收到删除申请",
    "correction received": "收到更正申请",
}


def action_words(action: str) -> str:
    """The action in Chinese; an unknown one readably, with its own name."""
    return ACTION_ZH.get(action) or f"其他操作（{action}）"


def _event(match: re.Match[str]) -> str:
    kind = match["type"]
    return f"记录事件：{EVENT_ZH.get(kind, kind)}" + (
        "（重复，未触发规则）" if match["rest"] and "repeat" in match["rest"] else ""
    )


def _request(match: re.Match[str]) -> str:
    rest = match["rest"].strip()
    head = rest.split(" (", 1)[0]
    return f"孕妇申请：{REQUEST_OUTCOME_ZH.get(head, head)}" if rest else "查看孕妇申请"


def _record(match: re.Match[str]) -> str:
    inner = match["rest"]
    batch = re.match(r"batch (\d+): ", inner)
    if batch:  # one woman's change made by a batch action (issue 21 item 4)
        rest = _record(re.fullmatch(r"(?P<rest>.*)", inner[batch.end() :], re.S))  # type: ignore[arg-type]
        return f"批量操作 #{batch.group(1)}：" + rest.removeprefix("在档案中")
    kind = inner.split(" ", 1)[0]
    if kind in EVENT_ZH:
        return f"在档案中{EVENT_ZH[kind]}"
    if inner.startswith("sent "):
        return "在档案中发送宣教内容"
    return "在档案中操作"


BATCH_ACTION_ZH = {"tag": "添加标签", "enrol": "加入管理方案", "push": "推送宣教内容"}
CONSENT_METHOD_ZH = {"paper": "纸质签字", "tablet": "平板签署"}


def _batch(match: re.Match[str]) -> str:
    what = BATCH_ACTION_ZH.get(match["action"], match["action"])
    return (
        f"批量操作 #{match['id']}：为 {match['n']} 名孕妇{what}「{match['target']}」"
        f"（其中 {match['already']} 名已有），原因：{match['reason']}"
    )


#: (pattern, words) in order; the first that matches the whole detail gives the words.
DETAIL_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(pattern, re.S), words)
    for pattern, words in (
        (r"event \S+ (?P<type>[a-z_.]+)(?P<rest>.*)", _event),
        (r"her request \d+(?P<rest>.*)", _request),
        (r"her requests: \d+", lambda m: "查看自己的申请"),
        (r"(open )?requests about her data", lambda m: "查看孕妇申请队列"),
        (r"her record: (?P<rest>.*)", _record),
        (r"her record", lambda m: "查看档案"),
        (r"patient record", lambda m: "查看档案"),
        (r"pregnancy timeline", lambda m: "查看孕期时间线"),
        (r"her data page", lambda m: "查看“我的数据”"),
        (r"her data, (?P<how>\w+):.*", lambda m: "下载/打印“我的数据”"),
        (r"her inbox: .*", lambda m: "查看消息"),
        (r"her sign-in.*", lambda m: "孕妇登录"),
        (r"her sign-out.*", lambda m: "孕妇退出登录"),
        (r"her phone changed.*", lambda m: "更换手机号"),
        (r"consent (?P<w>given|withdrawn) on her data page.*",
         lambda m: "重新同意接收消息" if m["w"] == "given" else "撤回接收消息的同意"),
        (r"listed \d+ patients.*", lambda m: "查看孕妇列表"),
        (r"lookup by ID number", lambda m: "按证件号码查找"),
        (r"my teams' women.*", lambda m: "查看本团队孕妇"),
        (r"registration \S+: (?P<rest>.*)", lambda m: "建档登记：证件核对"),
        (r"login .*", lambda m: "员工登录"),
        (r"failed login as .*", lambda m: "员工登录失败"),
        (r"team \d+ (?P<w>created|archived|renamed).*",
         lambda m: {"created": "新建团队", "archived": "归档团队", "renamed": "团队改名"}[m["w"]]),
        (r"settings .*", lambda m: "修改医院设置"),
        (r"audit log(?P<rest>.*)", lambda m: "查看或导出审计日志"),
        # issue 21: the register, find a woman, the desk, batch actions
        (r"high-risk register queue: .*", lambda m: "查看待确认的风险分级"),
        (r"high-risk register: .*", lambda m: "查看高危专案"),
        (r"search result", lambda m: "查找孕妇"),
        (r"batch preview", lambda m: "批量操作预览"),
        (r"batch (?P<id>\d+): (?P<action>\w+) (?P<target>.+?) for (?P<n>\d+) women "
         r"\(filter .*?; (?P<already>\d+) have it already\): (?P<reason>.*)", _batch),
        (r"batch (?P<id>\d+): sent (?P<target>\S+) now: (?P<reason>.*)",
         lambda m: f"批量操作 #{m['id']}：发送宣教内容「{m['target']}」，原因：{m['reason']}"),
        (r"registered at the desk: registration (?P<ref>\S+); consent (?P<how>\S+), notice (?P<v>.*)",
         lambda m: f"护士站建档登记（登记号 {m['ref']}；"
         f"知情同意：{CONSENT_METHOD_ZH.get(m['how'], m['how'])}；告知书版本 {m['v']}）"),
        (r"registration at the desk not made: .*", lambda m: "护士站建档未办理：证件号码已建档"),
        (r"registration at the desk: .*", lambda m: "查看建档结果与微信绑定二维码"),
        (r"registration (?P<ref>\S+) done .*", lambda m: f"建档登记完成（登记号 {m['ref']}）"),
        (r"purged .*", lambda m: "清理超过保存期限的审计日志"),
    )
)  # fmt: skip


def detail_words(detail: str) -> str | None:
    """The detail in Chinese, or None when no pattern knows it (the page shows it as written)."""
    for pattern, words in DETAIL_PATTERNS:
        match = pattern.fullmatch(detail or "")
        if match is not None:
            return words(match)
    return None


def actor_words(label: str, staff: dict[int, str], integrators: dict[int, str], patient: str | None) -> str:
    """Who acted, in words: a member of staff by name, an integrator by its name, a woman as
    孕妇本人, a machine as 系统（what it is）; an unknown label as it is."""
    kind, _, ident = label.partition(":")
    if kind == "staff":
        name = staff.get(int(ident)) if ident.isdigit() else None
        return name or f"员工（编号 {ident}）"
    if kind == "patient":
        return f"孕妇本人（{patient}）" if patient else "孕妇本人"
    if kind == "integrator":
        name = integrators.get(int(ident)) if ident.isdigit() else None
        return f"对接系统：{name}" if name else f"对接系统（编号 {ident}）"
    if kind == "staff-pages":
        return "系统（员工页面记录的事件）"
    if kind == "h5":
        return "系统（孕妇页面）"
    if kind == "login":
        return f"登录尝试：{ident}"
    if kind in SYSTEM_ZH:
        what = SYSTEM_ZH[kind]
        return "系统" if kind == "system" else f"系统（{what}{'：' + ident if kind == 'cli' else ''}）"
    return f"系统（{label}）" if label else "系统"
