"""The stand-in's webhook deliveries: signed as Stripe signs them, sent in order, retried.

One thread delivers the events in the order they happened to one endpoint; an answer other
than 2xx (or no answer) is retried with a growing pause, as Stripe retries, for up to
`give_up_seconds`. Bodies are signed with Stripe's v1 scheme under the endpoint's secret.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Any

import httpx

from billing_ledger.ingest.signature import sign

log = logging.getLogger(__name__)
_STOP = object()


class WebhookSender:
    def __init__(self, url: str, secret: str, *, give_up_seconds: float = 300.0) -> None:
        self._url, self._secret, self._give_up = url, secret, give_up_seconds
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="fake-stripe-webhooks", daemon=True)
        self._stopping = threading.Event()
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def send(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def stop(self, drain_seconds: float = 10.0) -> None:
        """Deliver what is queued (for up to `drain_seconds`), then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout=drain_seconds)
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                assert isinstance(item, dict)
                self._deliver(client, item)

    def _deliver(self, client: httpx.Client, event: dict[str, Any]) -> None:
        body = json.dumps(event).encode()
        deadline = time.monotonic() + self._give_up
        pause = 0.1
        while not self._stopping.is_set():
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(body, self._secret, int(time.time())),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            }
            try:
                answer = client.post(self._url, content=body, headers=headers)
                if answer.is_success:
                    self.delivered += 1
                    log.debug("webhook delivered", extra={"event_id": event["id"]})
                    return
                reason = f"HTTP {answer.status_code}"
            except httpx.HTTPError as e:
                reason = type(e).__name__
            if time.monotonic() > deadline:
                log.warning(
                    "webhook given up",
                    extra={"event_id": event["id"], "event_type": event["type"], "reason": reason},
                )
                return
            self._stopping.wait(pause)
            pause = min(pause * 2, 5.0)
