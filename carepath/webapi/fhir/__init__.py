"""FHIR R4 at ``/fhir/r4/``: the endpoints (``views.py``) and the pure mapping of a Bundle onto
HIS events (``mapping.py``)."""
