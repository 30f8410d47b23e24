"""Workspace tokens: HS256 JWTs that bind a tenant session to workspaces (docs/tenancy.md).

The database verifies them (campaigndb.token_workspaces) against the secret an admin stored
with `rotate_token_secret`; a client sends one per transaction with `SET LOCAL
campaigndb.token`, so it works through PgBouncer in transaction mode.  Any HS256 JWT
library can mint them too; this module is the standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

ALLOWED_CLAIMS = frozenset({"workspace_id", "workspace_ids", "exp", "nbf", "iat", "aud",
                            "role", "sub", "iss", "jti"})
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def mint_token(
    secret: str | bytes,
    workspaces: uuid.UUID | str | Iterable[uuid.UUID | str],
    *,
    ttl_s: float = 300.0,
    expires_at: float | None = None,
    **claims: Any,
) -> str:
    """An HS256 token for one workspace (claim workspace_id) or several (workspace_ids),
    expiring ttl_s seconds from now (or at epoch seconds expires_at).  Extra claims must be
    among ALLOWED_CLAIMS (the database refuses any other)."""
    unknown = set(claims) - ALLOWED_CLAIMS
    if unknown:
        raise ValueError(f"claims the database refuses: {', '.join(sorted(unknown))}")
    key = secret.encode() if isinstance(secret, str) else secret
    if len(key) < 32:
        raise ValueError("the secret must be at least 32 bytes")
    payload: dict[str, Any] = dict(claims)
    if isinstance(workspaces, (uuid.UUID, str)):
        payload["workspace_id"] = str(uuid.UUID(str(workspaces)))
    else:
        ids = [str(uuid.UUID(str(w))) for w in workspaces]
        if not 1 <= len(ids) <= 100:
            raise ValueError("a token names 1 to 100 workspaces")
        payload["workspace_ids"] = ids
    now = time.time()
    payload.setdefault("iat", int(now))
    payload["exp"] = int(expires_at if expires_at is not None else now + ttl_s)
    signed = _segment({"alg": "HS256", "typ": "JWT"}) + "." + _segment(payload)
    signature = hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()
    return signed + "." + _b64(signature)


def set_local_token(token: str) -> str:
    """The statement that binds the current transaction to a token's workspaces."""
    if not _TOKEN.fullmatch(token):
        raise ValueError("not a compact JWT (three base64url segments)")
    return f"SET LOCAL campaigndb.token = '{token}'"
