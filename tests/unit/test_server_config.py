"""The embedded server's settings: sized to the machine, written once, left to ALTER SYSTEM."""

from __future__ import annotations

from pathlib import Path

from billing_ledger.infra import server_config

GB = 1024**3


def test_shared_buffers_is_a_quarter_of_the_memory_within_bounds() -> None:
    assert server_config.settings(24 * GB)["shared_buffers"] == "6GB"
    assert server_config.settings(256 * 1024**2)["shared_buffers"] == "128MB"
    assert server_config.settings(256 * GB)["shared_buffers"] == "8GB"


def test_checkpoints_are_spaced_for_a_backlog() -> None:
    values = server_config.settings(8 * GB)
    assert values["max_wal_size"] == "8GB"
    assert values["checkpoint_timeout"] == "30min"


def test_the_file_is_included_once_and_rewritten_only_when_it_changes(tmp_path: Path) -> None:
    conf = tmp_path / "postgresql.conf"
    conf.write_text("max_connections = 100\n")
    values = server_config.settings(8 * GB)
    assert server_config.write(tmp_path, values)
    assert not server_config.write(tmp_path, values)
    assert conf.read_text().count(server_config.INCLUDE) == 1
    written = (tmp_path / server_config.CONF_NAME).read_text()
    assert "shared_buffers = '2GB'" in written
    assert server_config.write(tmp_path, server_config.settings(16 * GB))
    assert "shared_buffers = '4GB'" in (tmp_path / server_config.CONF_NAME).read_text()
