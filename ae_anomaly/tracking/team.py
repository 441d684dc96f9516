"""A team's tracking stack on one machine: PostgreSQL plus ``mlflow server`` with proxied
artifacts, started and stopped in one command (``make team-up`` / ``make team-down``).

It is MLflow's documented set-up for a team (a database as the backend store, artifacts
uploaded through the server, so no client writes into the server's folders), small enough to
try out on a laptop and for the integration tests to start for real. Everything lives in one
folder (``.team/`` by default, git-ignored): the PostgreSQL cluster, the artifacts, the logs,
the database password. Stopping keeps all of it, so the next start sees every earlier run.

Both servers listen on 127.0.0.1 only, unless ``host`` says otherwise. PostgreSQL refuses to
run as root: when started by root, the cluster is owned by and run as the ``postgres`` user
that Debian's ``postgresql`` package creates. The database password is generated once, kept
in the folder (mode 600) and handed to ``mlflow server`` in its environment, not on its
command line.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ae_anomaly.core.types import ReportedError

logger = logging.getLogger(__name__)

POSTGRES_USER = "postgres"  # the system account Debian's package creates
DATABASE = "mlflow"
DATABASE_ROLE = "mlflow"
_START_TIMEOUT_S = 120  # a first start migrates a fresh database: tens of seconds


class TeamStackError(ReportedError):
    """The stack cannot start or stop; the message says what to install or fix."""


@dataclass(frozen=True)
class TeamStack:
    """The stack's folder, ports and listening address; every method is idempotent."""

    folder: Path
    postgres_port: int = 5433
    mlflow_port: int = 5500
    host: str = "127.0.0.1"
    workers: int = 2

    @property
    def tracking_uri(self) -> str:
        """What team members set as ``MLFLOW_TRACKING_URI``."""
        return f"http://{self.host}:{self.mlflow_port}"

    @property
    def cluster(self) -> Path:
        return self.folder / "postgres"

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"

    @property
    def _password_file(self) -> Path:
        return self.folder / "postgres.password"

    @property
    def _server_pid_file(self) -> Path:
        return self.folder / "mlflow-server.pid"

    @property
    def server_log(self) -> Path:
        return self.folder / "mlflow-server.log"

    @property
    def postgres_log(self) -> Path:
        return self.folder / "postgres.log"

    # PostgreSQL ------------------------------------------------------------------------------

    def _run_as(self) -> dict[str, Any]:
        """``subprocess`` arguments that run PostgreSQL's tools as a user it accepts."""
        if _postgres_account() is None:
            return {}
        return {"user": POSTGRES_USER, "group": POSTGRES_USER, "extra_groups": []}

    def _postgres(self, tool: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
        command = [str(postgres_bindir() / tool), *args]
        return subprocess.run(command, capture_output=True, text=True, **self._run_as(), **kwargs)

    def _prepare_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.artifacts.mkdir(exist_ok=True)
        account = _postgres_account()
        if account is not None:
            self.cluster.mkdir(mode=0o700, exist_ok=True)
            os.chown(self.cluster, account.pw_uid, account.pw_gid)
            if not self.postgres_log.exists():
                self.postgres_log.touch()
            os.chown(self.postgres_log, account.pw_uid, account.pw_gid)
            reach = subprocess.run(["test", "-w", str(self.cluster)], **self._run_as())
            if reach.returncode != 0:
                raise TeamStackError(
                    f"PostgreSQL runs as the {POSTGRES_USER!r} user, which cannot reach "
                    f"{self.cluster}: make its parent folders traversable (chmod o+x) or "
                    "choose a team folder elsewhere (TEAM_DIR=...)"
                )

    def _password(self) -> str:
        if not self._password_file.exists():
            self._password_file.touch(mode=0o600)
            self._password_file.write_text(secrets.token_urlsafe(24))
        return self._password_file.read_text().strip()

    def postgres_running(self) -> bool:
        return (self.cluster / "PG_VERSION").exists() and (
            self._postgres("pg_ctl", "status", "-D", str(self.cluster)).returncode == 0
        )

    def _start_postgres(self) -> None:
        self._prepare_folder()
        password = self._password()
        fresh = not (self.cluster / "PG_VERSION").exists()
        if fresh:
            password_file = self.folder / f".initdb-password-{os.getpid()}"
            password_file.write_text(password)
            account = _postgres_account()
            if account is not None:
                os.chown(password_file, account.pw_uid, -1)
            try:
                result = self._postgres(
                    "initdb",
                    "--pgdata",
                    str(self.cluster),
                    "--username",
                    DATABASE_ROLE,
                    f"--pwfile={password_file}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-instructions",
                )
            finally:
                password_file.unlink(missing_ok=True)
            if result.returncode != 0:
                raise TeamStackError(f"initdb failed in {self.cluster}:\n{result.stderr}")
        if not self.postgres_running():
            options = (
                f"-c listen_addresses={self.host} -p {self.postgres_port} "
                f"-c unix_socket_directories='{self.cluster}'"
            )
            result = self._postgres(
                "pg_ctl",
                "start",
                "--pgdata",
                str(self.cluster),
                "--log",
                str(self.postgres_log),
                "--wait",
                "--timeout",
                str(_START_TIMEOUT_S),
                "-o",
                options,
            )
            if result.returncode != 0:
                raise TeamStackError(
                    f"PostgreSQL did not start (port {self.postgres_port} taken?):\n"
                    f"{result.stderr}{_tail(self.postgres_log)}"
                )
        if fresh:
            result = self._postgres(
                "createdb",
                "--host",
                self.host,
                "--port",
                str(self.postgres_port),
                "--username",
                DATABASE_ROLE,
                DATABASE,
                env={**os.environ, "PGPASSWORD": password},
            )
            if result.returncode != 0 and "already exists" not in result.stderr:
                raise TeamStackError(f"could not create database {DATABASE}:\n{result.stderr}")

    def _stop_postgres(self) -> None:
        if self.postgres_running():
            result = self._postgres("pg_ctl", "stop", "--pgdata", str(self.cluster), "-m", "fast")
            if result.returncode != 0:
                raise TeamStackError(f"PostgreSQL did not stop:\n{result.stderr}")

    @property
    def backend_store_uri(self) -> str:
        """The database URI for ``mlflow server``, naming its driver (psycopg 3, the optional
        ``team`` extra): SQLAlchemy's default driver for plain ``postgresql://`` differs
        between its versions."""
        password = urllib.parse.quote(self._password(), safe="")
        return f"postgresql+psycopg://{DATABASE_ROLE}:{password}@{self.host}:{self.postgres_port}/{DATABASE}"

    # MLflow server --------------------------------------------------------------------------

    @property
    def server_pid(self) -> int | None:
        """The running ``mlflow server``'s pid (it leads its own process group), else None."""
        try:
            pid = int(self._server_pid_file.read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def server_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.tracking_uri}/health", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def _start_server(self) -> None:
        if self.server_pid is not None and self.server_healthy():
            return
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise TeamStackError(
                "the PostgreSQL driver is missing: pip install -e '.[team]' (make team-up "
                "installs it)"
            ) from None
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--host", self.host,
            "--port", str(self.mlflow_port),
            "--workers", str(self.workers),
            "--serve-artifacts",
            "--artifacts-destination", str(self.artifacts.resolve()),
        ]  # fmt: skip
        environment = {
            **os.environ,
            "MLFLOW_BACKEND_STORE_URI": self.backend_store_uri,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
        }
        environment.pop("MLFLOW_TRACKING_URI", None)
        with open(self.server_log, "ab") as log:
            server = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                cwd=self.folder,
                start_new_session=True,  # Ctrl-C in the starting shell does not stop it
            )
        self._server_pid_file.write_text(str(server.pid))
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self.server_healthy():
            if server.poll() is not None:
                self._server_pid_file.unlink(missing_ok=True)
                raise TeamStackError(
                    f"mlflow server exited with status {server.returncode} (port "
                    f"{self.mlflow_port} taken?):\n{_tail(self.server_log)}"
                )
            if time.monotonic() > deadline:
                self._stop_server()
                raise TeamStackError(
                    f"mlflow server did not answer within {_START_TIMEOUT_S} s:\n"
                    f"{_tail(self.server_log)}"
                )
            time.sleep(0.5)

    def _stop_server(self) -> None:
        pid = self.server_pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        self._server_pid_file.unlink(missing_ok=True)

    # The stack ------------------------------------------------------------------------------

    def up(self) -> None:
        """Start PostgreSQL, then the server (each only if not already running)."""
        self._start_postgres()
        self._start_server()
        logger.info(
            "team stack up: MLFLOW_TRACKING_URI=%s (PostgreSQL on %s:%d, artifacts in %s)",
            self.tracking_uri,
            self.host,
            self.postgres_port,
            self.artifacts,
        )

    def down(self) -> None:
        """Stop the server, then PostgreSQL; every run and artifact stays in the folder."""
        self._stop_server()
        self._stop_postgres()
        logger.info("team stack down; its data stays in %s", self.folder)

    def status(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "mlflow_server": self.server_healthy(),
            "postgres": self.postgres_running(),
            "folder": str(self.folder),
        }


def _postgres_account() -> Any:
    """The ``postgres`` account PostgreSQL runs as when this process is root (it refuses to
    run as root); ``None`` when not root: then it runs as this process's user."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        return pwd.getpwnam(POSTGRES_USER)
    except KeyError:
        raise TeamStackError(
            f"PostgreSQL refuses to run as root and there is no {POSTGRES_USER!r} user: "
            "install Debian's postgresql package (it creates one), or run as another user"
        ) from None


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reaps it if it is our child
        if finished:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def postgres_bindir() -> Path:
    """Where PostgreSQL's server programs are, or a message saying how to install them
    (``make team-up`` installs Debian's package first, where it may)."""
    found = _find_bindir()
    if found is None:
        raise TeamStackError(
            "PostgreSQL is not installed: make team-up installs Debian's package when run as "
            "root; otherwise sudo apt-get install postgresql, or set PG_BINDIR to the folder "
            "holding initdb and pg_ctl"
        )
    return found


def _version(bindir: str) -> tuple[int, ...]:
    """``/usr/lib/postgresql/15/bin`` -> (15,): the newest installed version first."""
    return tuple(int(part) for part in Path(bindir).parent.name.split(".") if part.isdigit())


def _find_bindir() -> Path | None:
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None
