"""Signed checkpoints of the chain's head, kept outside the database: what catches a rewritten or shortened chain.

Each line of an append-only JSONL file holds a seq, that record's hash, a time and an Ed25519 signature by a key
the database never holds. A forger with the database can recompute every hash, but cannot sign the new heads.
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError

_PRIVATE_KEYS: dict[Path, object] = {}  # loaded once per process: signing happens on every append


@dataclass(frozen=True)
class Checkpoint:
    line: int  # 1-based line of the checkpoint file
    seq: int
    hash: str
    at: str
    key_id: str  # first 16 hex digits of sha256 over the raw public key
    signed: bool  # the signature verifies under the trusted public key


@dataclass(frozen=True)
class Checkpoints:
    path: Path  # the append-only file
    key_path: Path  # the private signing key (created on first use, mode 0600)
    pinned_public_key: str = ""  # base64 raw Ed25519 public key; trusted over the key file's when given

    def sign(self, seq: int, record_hash: str, at: str) -> None:
        key = _private_key(self.key_path)
        signature = key.sign(_message(seq, record_hash, at))
        line = json.dumps({"seq": seq, "hash": record_hash, "at": at, "key": key_id(_raw_public(key.public_key())),
                           "sig": base64.b64encode(signature).decode()}, separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one line at a time from every process appending
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def trusted_public_key(self) -> bytes | None:
        """The key checkpoints must verify under: the pinned one, else the signing key's own; None when neither."""
        if self.pinned_public_key:
            try:
                raw = base64.b64decode(self.pinned_public_key, validate=True)
            except ValueError:
                raise ConfigError("audit_public_key is not base64 of a raw Ed25519 public key") from None
            if len(raw) != 32:
                raise ConfigError("audit_public_key must be a 32-byte Ed25519 public key, base64-encoded")
            return raw
        if not self.key_path.exists():
            return None
        return _raw_public(_private_key(self.key_path, create=False).public_key())

    def read(self) -> list[Checkpoint]:
        """Every checkpoint in the file, each marked signed or not (a line that is not a checkpoint is unsigned)."""
        if not self.path.exists():
            return []
        public = self.trusted_public_key()
        verifier = _public_key(public) if public else None
        out: list[Checkpoint] = []
        for n, raw in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                seq, record_hash, at = int(row["seq"]), str(row["hash"]), str(row["at"])
                signature = base64.b64decode(row["sig"])
            except (ValueError, KeyError, TypeError):
                out.append(Checkpoint(n, -1, "", "", "", False))
                continue
            out.append(Checkpoint(n, seq, record_hash, at, str(row.get("key", "")),
                                  verifier is not None and _verifies(verifier, signature, seq, record_hash, at)))
        return out


def public_key_b64(key_path: Path) -> str:
    """The base64 public key of the signing key, for pinning with audit_public_key where auditors verify."""
    return base64.b64encode(_raw_public(_private_key(key_path).public_key())).decode()


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def _message(seq: int, record_hash: str, at: str) -> bytes:
    return f"regcite-audit-checkpoint:{seq}:{record_hash}:{at}".encode()


def _verifies(verifier, signature: bytes, seq: int, record_hash: str, at: str) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        verifier.verify(signature, _message(seq, record_hash, at))
        return True
    except InvalidSignature:
        return False


def _private_key(path: Path, create: bool = True):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = path.expanduser().resolve()
    if path in _PRIVATE_KEYS:
        return _PRIVATE_KEYS[path]
    if not path.exists():
        if not create:
            raise ConfigError(f"no audit signing key at {path}")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use that one
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"the audit signing key {path} is not a PEM Ed25519 private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"the audit signing key {path} is not an Ed25519 key")
    _PRIVATE_KEYS[path] = key
    return key


def _raw_public(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _public_key(raw: bytes):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)
