"""Who is asking: integrators sign each request (HMAC, ``integrators.py``); staff log in with a
password and carry a session cookie (``sessions.py``, ``views.py``); what either may do is
decided in one place, ``permissions.py``. A woman on her pages has her own session and cookie
(``patients.py``). The HMAC names stay importable from here."""

from carepath.webapi.auth.integrators import authenticate, require_integrator, sign

__all__ = ["authenticate", "require_integrator", "sign"]
