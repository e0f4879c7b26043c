from __future__ import annotations

from billing_ledger.cli import main

raise SystemExit(main())
