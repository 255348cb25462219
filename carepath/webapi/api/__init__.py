"""The signed integrator API (``/api/v1``) and its OpenAPI document: HIS events, patients,
pregnancies, tasks, the inbox, questionnaire responses, consents, pathways, the outbox and its
exports. Every request is HMAC-signed (``webapi/auth/integrators.py``); the staff tools' reads
also name the staff member acting (``staff.py``). One blueprint per resource; the schemas only
the API uses are in ``schemas.py``.
"""
