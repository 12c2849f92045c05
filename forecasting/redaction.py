"""Secrets out of text: passwords in URLs and DSNs, before a message, log line or parameter
leaves the process.

One helper for every exit (error messages, logs, MLflow parameters), so a password given in
``postgresql://user:secret@host/db`` or ``MLFLOW_TRACKING_URI=http://user:secret@host`` is
never printed back.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@host  ->  scheme://user:***@host (the user name helps a person)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s'\"]*):[^@\s'\"]*@")
# libpq / ODBC key=value DSNs: password=secret, pwd=secret
_DSN_PASSWORD = re.compile(r"(?i)\b(?P<key>password|pwd|passwd)\s*=\s*(?P<value>'[^']*'|[^\s;&]+)")
# query-string secrets: ?token=..., &api_key=...
_QUERY_SECRET = re.compile(
    r"(?i)(?P<key>[?&](?:password|token|access_token|api_key|apikey|secret|sig)=)[^&\s'\"]+"
)


def redact(text: object) -> str:
    """``text`` with every password or token it carries replaced by ``***``."""
    out = _URL_PASSWORD.sub(rf"\g<head>:{MASK}@", str(text))
    out = _DSN_PASSWORD.sub(rf"\g<key>={MASK}", out)
    return _QUERY_SECRET.sub(rf"\g<key>{MASK}", out)
