"""What the tests need to know about a warehouse directory from outside."""

from __future__ import annotations

import hashlib
from pathlib import Path


def fingerprint(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the SHA-256 of its bytes (but the ingest lock, which readers open)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "lock"
    }
