"""Durable file writes: security state (users, keystore, revocations, audit log) and the
control plane's write-ahead log and snapshots (control may use security; not the reverse).

``atomic_write``: temporary file, fsync, rename, fsync the directory; after it returns a crash
leaves the old or the new content, never a mix. ``append_durable``: one ``write`` of a whole line
on an ``O_APPEND`` descriptor, then fsync. Files are created with mode 0600: they hold password
hashes, TOTP secrets, encrypted keys and the command log.
"""

from __future__ import annotations

import os


def fsync_dir(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a single write may be short)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    path = os.fspath(path)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))


def open_append(path: str | os.PathLike) -> int:
    """An ``O_APPEND`` descriptor (mode 0600 when created; the directory is synced then)."""
    path = os.fspath(path)
    created = not os.path.exists(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    if created:
        fsync_dir(os.path.dirname(os.path.abspath(path)))
    return fd


def append_durable(fd: int, data: bytes) -> None:
    write_all(fd, data)
    os.fsync(fd)


def ensure_private_dir(path: str | os.PathLike) -> str:
    """Create ``path`` (mode 0700) if missing; return it as a string."""
    path = os.fspath(path)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path
