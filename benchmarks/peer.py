"""The ingest benchmark's peer: `@supabase/stripe-sync-engine` from npm, served by
peer_server.cjs (the library as its README shows it, behind node:http).

The package is installed once into a cache outside the repository (`BENCH_HOME/peer-<version>`,
`npm install` at the pinned version with the `stripe` SDK it needs as a peer dependency);
nothing of it is committed. It runs against a database of its own, upserting inline: it
answers a webhook once its rows are written, and keeps no log of what it received.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from benchmarks.infra import DEFAULT_HOME

PACKAGE = "@supabase/stripe-sync-engine"
VERSION = "0.48.5"
STRIPE_SDK = "stripe@19.3.1"  # its peer dependency ("> 18"), pinned so runs compare
SERVER = Path(__file__).with_name("peer_server.cjs")


def installed() -> Path:
    """The directory whose node_modules holds the pinned peer (installed on first use)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise SystemExit("the peer needs node and npm (Node 20)")
    home = DEFAULT_HOME / f"peer-{VERSION}"
    marker = home / "node_modules" / PACKAGE / "package.json"
    if not marker.exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", f"{PACKAGE}@{VERSION}", STRIPE_SDK],
            cwd=home,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return home


def command() -> list[str]:
    return ["node", str(SERVER)]


def environment(home: Path, dsn: str, port: int, secret: str) -> dict[str, str]:
    """What peer_server.cjs reads: its database, port and webhook secret."""
    return {
        **os.environ,
        "NODE_PATH": str(home / "node_modules"),
        "DATABASE_URL": _node_dsn(dsn),
        "PORT": str(port),
        "STRIPE_WEBHOOK_SECRET": secret,
    }


def _node_dsn(dsn: str) -> str:
    """A postgres:// URL for node-postgres (libpq's key=value form is not one it reads)."""
    params = conninfo_to_dict(dsn)
    host = str(params.get("host", "127.0.0.1"))
    user = str(params.get("user", "postgres"))
    password = params.get("password")
    auth = f"{user}:{password}" if password else user
    if host.startswith("/"):  # a Unix socket directory
        return (
            f"postgresql://{auth}@/{params['dbname']}?host={host}&port={params.get('port', 5432)}"
        )
    return f"postgresql://{auth}@{host}:{params.get('port', 5432)}/{params['dbname']}"
