import os
import stat

from uqo.fsutil import append_durable, atomic_write, ensure_private_dir, open_append


def test_atomic_write_replaces_whole_files_privately(tmp_path):
    path = tmp_path / "f"
    atomic_write(path, b"one")
    atomic_write(path, b"two")
    assert path.read_bytes() == b"two" and not (tmp_path / "f.tmp").exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_append_durable_and_private_dirs(tmp_path):
    d = ensure_private_dir(tmp_path / "d")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    fd = open_append(os.path.join(d, "log"))
    try:
        append_durable(fd, b"a\n")
        append_durable(fd, b"b\n")
    finally:
        os.close(fd)
    assert (tmp_path / "d" / "log").read_bytes() == b"a\nb\n"
