"""The finance dashboard, `/dashboard`: MRR and ARR over time, the month's movements as a
waterfall, churn and retention, trials, payments and dunning, the failed payments to act on,
open receivables and the journal's trial balance, per account, mode and currency.

Server-rendered from the metrics views (`projections/metrics.py`, the same reads as
`GET /api/v1/metrics`), drawn by the vendored Chart.js (`static/vendor/`) from a JSON block
that the page's own script reads: no inline script, no third-party origin. Opened by a signed
link or a `read` token traded for a session cookie (`access.py`); every figure links to its
rows in the read API, which takes that cookie for GETs.
"""
