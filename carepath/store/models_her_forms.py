"""Her answers to the forms she was sent, from her pages (issue 19 item 3).

A form reaches her as an outbox row of kind ``questionnaire`` whose inbox copy was filed. Her
answer is a questionnaire response like any other (``store/responses.py``: checked, scored,
recorded as a ``questionnaire.submitted`` event and evaluated in one transaction); this row
says which sent form it answered and with which submission token. Both are unique: a sent form
is answered once (a second tab's submit finds the first answer), and a double submit of one
page (the same token) answers as the first did.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from carepath.store.models import Base, BigId


class HerFormAnswer(Base):
    __tablename__ = "her_form_answers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    #: The sent form (an outbox row of kind ``questionnaire``) this answers; answered once.
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), unique=True)
    #: The page's random submission token: the response id of ``store/responses.py``.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_responses.id"))
    submitted_at: Mapped[datetime]
