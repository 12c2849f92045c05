"""Named API keys kept in a file as SHA-256 digests: `ordercast keys` writes it, the
service reads it at start-up. The plain key is shown once, when it is made, and never
stored, so a copied file grants nothing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from api.security import ROLES, KeyRing
from forecasting.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PREFIX = "oc_"


@dataclass(frozen=True)
class StoredKey:
    name: str
    role: str
    sha256: str
    created: str


def read_keys(path: Path) -> list[StoredKey]:
    """The keys in ``path``; none when the file does not exist."""
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["keys"]
        keys = [StoredKey(**entry) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"API key file {path} is not one `ordercast keys` wrote ({exc}); "
            "move it aside and create the keys again"
        ) from exc
    for key in keys:
        if key.role not in ROLES:
            raise ConfigError(f"API key file {path}: key {key.name!r} has unknown role {key.role}")
    return keys


def create_key(path: Path, name: str, role: str, replace: bool = False) -> str:
    """Add a key named ``name`` with ``role`` to ``path`` and return the plain key."""
    if not NAME.match(name):
        raise ConfigError(
            f"key name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (e.g. planner-anna)"
        )
    if role not in ROLES:
        raise ConfigError(f"--role {role}: choose one of {', '.join(ROLES)}")
    keys = read_keys(path)
    if any(key.name == name for key in keys) and not replace:
        raise ConfigError(
            f"a key named {name!r} exists in {path}; choose another name, or add --replace "
            "to issue a new key under this name (the old one stops working)"
        )
    plain = PREFIX + secrets.token_urlsafe(32)
    made = StoredKey(
        name=name,
        role=role,
        sha256=hashlib.sha256(plain.encode()).hexdigest(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _write(path, [key for key in keys if key.name != name] + [made])
    return plain


def revoke_key(path: Path, name: str) -> None:
    keys = read_keys(path)
    kept = [key for key in keys if key.name != name]
    if len(kept) == len(keys):
        known = ", ".join(key.name for key in keys) or "none"
        raise ConfigError(f"no key named {name!r} in {path} (keys: {known})")
    _write(path, kept)


def _write(path: Path, keys: list[StoredKey]) -> None:
    """Replace the file in one rename, readable by its owner only: digests are not keys,
    but who holds which role is still nobody else's business."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"keys": [asdict(key) for key in keys]}, out, indent=2)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def key_ring(spec: str, path: Path | None) -> KeyRing:
    """The keys the service accepts: those of ``api.api_keys`` / ORDERCAST_API_KEYS and
    those `ordercast keys create` wrote to ``path`` (none without a path)."""
    found = read_keys(path) if path is not None else []
    stored = [(key.name, key.role, key.sha256) for key in found]
    return KeyRing.parse(spec).with_digests(stored)
