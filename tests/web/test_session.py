"""Session cookies and CSRF tokens, without a server: what a cookie may and may not do."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from api.key_file import ServedKeys, create_key, revoke_key
from api.web.session import LOCAL, MAX_AGE_SECONDS, Sessions, session_secret

NOW = 1_800_000_000.0
RING = "reader-key:read,admin-key:admin"


def sessions(keys: str = RING, secret: bytes = b"s" * 32, path: Path | None = None) -> Sessions:
    return Sessions(lambda: secret, ServedKeys(keys, path))


def issued(signer: Sessions, key: str | None, now: float = NOW) -> str:
    cookie = signer.issue(key, now=now)
    assert cookie is not None
    return cookie


def test_a_cookie_names_its_holder_and_role_never_the_key() -> None:
    cookie = issued(sessions(), "admin-key")
    user = sessions().read(cookie, now=NOW + 60)
    assert user is not None and (user.name, user.role) == ("api-key-2", "admin")
    assert "admin-key" not in base64.urlsafe_b64decode(cookie.split(".")[0] + "==").decode()


def test_an_unknown_key_gets_no_cookie() -> None:
    assert sessions().issue("reader-key-2") is None
    assert sessions().issue("") is None and sessions().issue(None) is None


def test_an_altered_cookie_or_another_secret_is_no_session() -> None:
    cookie = issued(sessions(), "reader-key")
    body, signature = cookie.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["r"] = "admin"  # a reader promoting itself
    raised = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert sessions().read(f"{raised}.{signature}", now=NOW) is None
    assert sessions(secret=b"t" * 32).read(cookie, now=NOW) is None
    for junk in ("", "no-dot", "a.b.c", "!!.??"):
        assert sessions().read(junk, now=NOW) is None


def test_a_session_ends_after_twelve_hours() -> None:
    cookie = issued(sessions(), "reader-key")
    assert sessions().read(cookie, now=NOW + MAX_AGE_SECONDS) is not None
    assert sessions().read(cookie, now=NOW + MAX_AGE_SECONDS + 1) is None
    assert sessions().read(cookie, now=NOW - 60) is None  # issued in the future


def test_a_holder_the_keys_no_longer_grant_has_no_session() -> None:
    cookie = issued(sessions(), "admin-key")
    fewer = "reader-key:read"  # the admin key was taken out of the configuration
    assert sessions(keys=fewer).read(cookie, now=NOW) is None


def test_without_keys_only_the_local_admin_signs_in() -> None:
    open_access = sessions(keys="")
    local = open_access.read(issued(open_access, None), now=NOW)
    assert local is not None and (local.name, local.role) == (LOCAL, "admin")
    # A cookie from a keyed configuration means nothing once the keys are gone.
    assert open_access.read(issued(sessions(), "reader-key"), now=NOW) is None


def test_the_csrf_token_is_bound_to_one_session() -> None:
    signer = sessions()
    first = signer.read(issued(signer, "reader-key"), now=NOW)
    second = signer.read(issued(signer, "reader-key"), now=NOW)
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


@pytest.fixture()
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "api-keys.json"


def test_a_revoked_key_ends_its_sessions_at_once(key_file: Path) -> None:
    anna, ops = create_key(key_file, "anna", "read"), create_key(key_file, "ops", "admin")
    signer = sessions(keys="", path=key_file)  # one service, running all along
    planner, admin = issued(signer, anna), issued(signer, ops)
    revoke_key(key_file, "anna")
    assert signer.read(planner, now=NOW) is None
    assert signer.issue(anna) is None
    assert signer.read(admin, now=NOW) is not None  # the other key's session goes on


def test_a_replaced_key_ends_the_old_keys_sessions(key_file: Path) -> None:
    old = create_key(key_file, "anna", "read")
    signer = sessions(keys="", path=key_file)
    before = issued(signer, old)
    new = create_key(key_file, "anna", "read", replace=True)  # same name, same role
    assert signer.read(before, now=NOW) is None
    assert signer.read(issued(signer, new), now=NOW) is not None


def test_revoking_every_key_opens_nothing(key_file: Path) -> None:
    anna = create_key(key_file, "anna", "admin")
    signer = sessions(keys="", path=key_file)
    cookie = issued(signer, anna)
    revoke_key(key_file, "anna")
    # Started with keys: not the open loopback service, whoever asks.
    assert not signer.open_access
    assert signer.read(cookie, now=NOW) is None and signer.issue(None) is None


def test_a_key_file_broken_while_serving_grants_nothing(key_file: Path) -> None:
    anna = create_key(key_file, "anna", "read")
    signer = sessions(keys="reader-key:read", path=key_file)
    cookie = issued(signer, anna)
    key_file.write_text("{not json")
    assert signer.read(cookie, now=NOW) is None
    assert signer.read(issued(signer, "reader-key"), now=NOW) is not None  # configured keys
