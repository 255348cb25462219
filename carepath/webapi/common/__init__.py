"""Edge helpers every audience uses: problem+json answers (``problems.py``), the staff UI's
languages (``i18n.py``), strict JSON bodies (``jsonbody.py``), the NUL and lone-surrogate guard
(``text_guard.py``), the shared schemas (``schemas.py``) and static files (``assets.py``); the
base and error templates, ``carepath.css``/``.js`` and the translations live here too.

``common`` imports no audience package and not ``auth`` (``tests/webapi/test_audience_imports.py``).
"""
