"""What the tests share: the domain and the journal in memory, generated billing histories, an
HTTP server for an ASGI app. No test lives here."""
