"""API keys with roles: held hashed, compared in constant time, never logged."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from forecasting.errors import ConfigError

# read: forecasts and scores; write: push order lines (an order-management system's key, which
# reads nothing); admin: everything.
ROLES = ("read", "write", "admin")


@dataclass(frozen=True)
class KeyRing:
    """sha256 digests of the configured keys, the role each grants and a name for the holder
    (``ordercast keys`` names its keys; a key from ORDERCAST_API_KEYS is named by position)."""

    digests: tuple[tuple[bytes, str, str], ...]

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """'k1:read,k2:write,k3:admin' -> a key ring. A key without a role is a read key."""
        entries = []
        items = [part.strip() for part in spec.split(",") if part.strip()]
        for number, item in enumerate(items, start=1):
            key, _, role = item.rpartition(":") if ":" in item else (item, "", "read")
            if role not in ROLES or not key:
                # Name the entry by position: never echo any part of a key.
                raise ConfigError(
                    f"API key entry #{number}: write key:role with role read, write or admin"
                )
            entries.append((key_digest(key), role, f"api-key-{number}"))
        return cls(tuple(entries))

    def with_digests(self, named: list[tuple[str, str, str]]) -> KeyRing:
        """Add ``(name, role, sha256 hex)`` entries, as ``ordercast keys`` stores them."""
        added = tuple((bytes.fromhex(sha), role, name) for name, role, sha in named)
        return KeyRing(self.digests + added)

    @property
    def empty(self) -> bool:
        return not self.digests

    def holder_of(self, presented: str | None) -> tuple[str, str] | None:
        """``(name, role)`` of a presented key, or None; checks every entry so timing says
        nothing."""
        if not presented:
            return None
        digest = key_digest(presented)
        found = None
        for known, role, name in self.digests:
            if hmac.compare_digest(known, digest):
                found = (name, role)
        return found

    def role_of(self, presented: str | None) -> str | None:
        holder = self.holder_of(presented)
        return None if holder is None else holder[1]


def allows(role: str | None, needed: str) -> bool:
    return role == "admin" or (role is not None and role == needed and role in ROLES)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_digest(key: str) -> bytes:
    """What the key ring holds of a key: its SHA-256."""
    return hashlib.sha256(key.encode()).digest()
