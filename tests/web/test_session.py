"""Session cookies and CSRF tokens, without a server: what a cookie may and may not do."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from api.security import KeyRing
from api.web.session import LOCAL, MAX_AGE_SECONDS, Sessions, session_secret

NOW = 1_800_000_000.0
RING = KeyRing.parse("reader-key:read,admin-key:admin")


def sessions(ring: KeyRing = RING, secret: bytes = b"s" * 32) -> Sessions:
    return Sessions(lambda: secret, ring)


def test_a_cookie_names_its_holder_and_role_never_the_key() -> None:
    cookie = sessions().issue("api-key-2", "admin", now=NOW)
    user = sessions().read(cookie, now=NOW + 60)
    assert user is not None and (user.name, user.role) == ("api-key-2", "admin")
    assert "admin-key" not in base64.urlsafe_b64decode(cookie.split(".")[0] + "==").decode()


def test_an_altered_cookie_or_another_secret_is_no_session() -> None:
    cookie = sessions().issue("api-key-1", "read", now=NOW)
    body, signature = cookie.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["r"] = "admin"  # a reader promoting itself
    raised = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert sessions().read(f"{raised}.{signature}", now=NOW) is None
    assert sessions(secret=b"t" * 32).read(cookie, now=NOW) is None
    for junk in ("", "no-dot", "a.b.c", "!!.??"):
        assert sessions().read(junk, now=NOW) is None


def test_a_session_ends_after_twelve_hours() -> None:
    cookie = sessions().issue("api-key-1", "read", now=NOW)
    assert sessions().read(cookie, now=NOW + MAX_AGE_SECONDS) is not None
    assert sessions().read(cookie, now=NOW + MAX_AGE_SECONDS + 1) is None
    assert sessions().read(cookie, now=NOW - 60) is None  # issued in the future


def test_a_holder_the_keys_no_longer_grant_has_no_session() -> None:
    cookie = sessions().issue("api-key-2", "admin", now=NOW)
    fewer = KeyRing.parse("reader-key:read")  # the admin key was revoked (and restarted)
    assert sessions(ring=fewer).read(cookie, now=NOW) is None


def test_without_keys_only_the_local_admin_signs_in() -> None:
    open_access = sessions(ring=KeyRing.parse(""))
    assert open_access.holder(None) == (LOCAL, "admin")
    local = open_access.issue(LOCAL, "admin", now=NOW)
    assert open_access.read(local, now=NOW) is not None
    # A cookie from a keyed configuration means nothing once the keys are gone.
    assert open_access.read(sessions().issue("api-key-1", "read", now=NOW), now=NOW) is None


def test_the_csrf_token_is_bound_to_one_session() -> None:
    signer = sessions()
    first = signer.read(signer.issue("api-key-1", "read", now=NOW), now=NOW)
    second = signer.read(signer.issue("api-key-1", "read", now=NOW), now=NOW)
    assert first is not None and second is not None
    assert signer.csrf_ok(first, signer.csrf_token(first))
    assert not signer.csrf_ok(second, signer.csrf_token(first))
    assert not signer.csrf_ok(first, None) and not signer.csrf_ok(first, "")


def test_the_secret_is_kept_beside_the_key_file_for_its_owner(tmp_path: Path) -> None:
    keys = tmp_path / "api-keys.json"
    secret = session_secret(keys)
    kept = tmp_path / "api-keys.json.session-secret"
    assert kept.read_bytes() == secret and len(secret) == 32
    assert kept.stat().st_mode & 0o777 == 0o600
    assert session_secret(keys) == secret  # a restart (or another worker) agrees
    assert session_secret(None) != session_secret(None)  # no key file: one per process
