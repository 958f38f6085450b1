"""A throwaway PostgreSQL server for the feedback store's tests (fixture ``postgres_url`` in
``conftest.py``).

The server binaries of Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin``,
installed by ``make test`` through ``scripts/ensure_postgres.sh``) make a cluster in a new
temporary folder, listening on 127.0.0.1 at a free port with its socket in that folder, and
trust authentication for local connections only. PostgreSQL refuses to run as root, so as root
the folder is given to the ``postgres`` user and the commands run as that user (``runuser``).
Anything that goes wrong is raised with the command's own output: the tests fail, they are not
skipped.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

USER = "dipsim"


class PostgresUnavailable(RuntimeError):
    """The throwaway server could not be started; the message holds the exact error."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: run `make test` "
            "(scripts/ensure_postgres.sh installs Debian's postgresql) or, as root, "
            "apt-get install -y postgresql")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayPostgres:
    """A cluster in a temporary folder: :meth:`start`, :meth:`new_database`, :meth:`stop`."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.folder = Path(tempfile.mkdtemp(prefix="dip-sim-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root, and there is no 'postgres' user to run the server as "
                    "(Debian's postgresql package creates it)") from None
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.started = False

    def _run(self, *command: str) -> str:
        try:
            done = subprocess.run([*self.as_user, *command], capture_output=True, text=True,
                                  timeout=120, cwd=self.folder)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresUnavailable(f"`{' '.join(command)}` could not run: {exc}") from None
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.is_file() else ""
            raise PostgresUnavailable(
                f"`{' '.join(command)}` exited with {done.returncode}:\n{done.stdout}"
                f"{done.stderr}" + (f"\nserver log:\n{log}" if log else ""))
        return done.stdout

    def start(self) -> ThrowawayPostgres:
        """initdb, then pg_ctl start (waiting until it accepts connections)."""
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", options, "-w", "-t", "60", "start")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """pg_ctl stop (fast), and remove the folder."""
        try:
            if self.started:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                          "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
