"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, Unix socket
only (no TCP port), stopped and deleted afterwards.

Debian's ``postgresql`` package provides the binaries (``.ci/system-deps`` installs it).
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user
that package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl (the newest Debian install, or PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def why_unavailable() -> str:
    if binaries() is None:
        return "no PostgreSQL server binaries (Debian: apt-get install postgresql; see .ci/system-deps)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no 'postgres' user to run the server as"
    return ""


@contextlib.contextmanager
def server(database: str = "mlcourse") -> Iterator[str]:
    """Start a server with one empty database; yield its SQLAlchemy URL."""
    bindir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="mlcourse-pg-", dir="/tmp"))
    data, sockets = folder / "data", folder / "run"
    sockets.mkdir()
    prefix: list[str] = []
    user = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        user = "postgres"
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        os.chown(sockets, entry.pw_uid, entry.pw_gid)
        prefix = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups",
                  "--reset-env"]

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120, cwd=folder)

    port = "5439"
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(folder / "log"),
            "-o", f"-k {sockets} -p {port} -c listen_addresses='' -c fsync=off", "start")
        try:
            run(str(bindir / "createdb"), "-h", str(sockets), "-p", port, "-U", user, database)
            yield f"postgresql+psycopg2://{user}@/{database}?host={sockets}&port={port}"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
