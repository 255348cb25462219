"""A valid pathway of a given length, for the editor's speed measurements (300 lines)."""

from __future__ import annotations

HEADER = """\
# 编辑器测速用的长路径（合成，仅供测试）
pathway: editor-long
title: 编辑器测速路径
description: 一条合成的长路径，用来测量编辑器从按键到标出错误的时间
audience:
  all:
    - status: pregnant
rules:
"""

RULE = """\
  - id: weekly-{n}
    every: {{interval: 1w, from: {{gestational_age: "{week}+0"}}, until: {{gestational_age: "40+0"}}}}
    when: {{status: pregnant}}
    do:
      - push: {{content: week-{week}}}
      - task: {{assign: responsible_nurse, title: 第{n}条随访, due: 2d, priority: normal}}

"""


def long_pathway(lines: int = 300) -> str:
    """At least ``lines`` lines: the header, then weekly rules (6 lines and a blank each)."""
    text = HEADER
    n = 0
    while text.count("\n") < lines:
        n += 1
        text += RULE.format(n=n, week=12 + n % 28)
    return text


def last_from_line(text: str) -> int:
    """The 1-based line of the last rule's ``every:`` (where the tests break ``from:``)."""
    lines = text.splitlines()
    return max(number for number, line in enumerate(lines, 1) if "every:" in line)
