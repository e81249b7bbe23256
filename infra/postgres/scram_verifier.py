"""Print the PostgreSQL SCRAM-SHA-256 verifier of the password read from stdin.

`ALTER ROLE ... PASSWORD '<verifier>'` stores it as is, so the server (and its log) never
sees the password itself. Standard library only: infra/postgres/pg.sh runs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys

ITERATIONS = 4096


def verifier(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


if __name__ == "__main__":
    password = sys.stdin.read().strip()
    if not password:
        sys.exit("scram_verifier.py: empty password on stdin")
    print(verifier(password))
