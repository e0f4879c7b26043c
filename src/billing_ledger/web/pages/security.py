"""The security headers of every page: a Content-Security-Policy that allows this origin and
Stripe's (and nothing else third-party), no framing unless configured, no caching, and no
referrer to other origins.

Stripe's documented origins for Stripe.js and Elements: scripts from `js.stripe.com` (and its
subdomains), frames from those and `hooks.stripe.com` (3-D Secure), API calls to
`api.stripe.com`, images from `*.stripe.com`. When `STRIPE_JS_URL` points elsewhere (the
stand-in's Stripe.js in tests), that origin takes Stripe's place in each directive.
"""

from __future__ import annotations

from urllib.parse import urlsplit

STRIPE_SCRIPT = ("https://js.stripe.com", "https://*.js.stripe.com")
STRIPE_FRAME = (*STRIPE_SCRIPT, "https://hooks.stripe.com")
STRIPE_CONNECT = ("https://api.stripe.com",)
STRIPE_IMG = ("https://*.stripe.com",)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(stripe_js_url: str, frame_ancestors: str) -> str:
    js = origin_of(stripe_js_url)
    script: tuple[str, ...]
    frame: tuple[str, ...]
    connect: tuple[str, ...]
    img: tuple[str, ...]
    if js == "https://js.stripe.com":
        script, frame, connect, img = STRIPE_SCRIPT, STRIPE_FRAME, STRIPE_CONNECT, STRIPE_IMG
    else:
        script = frame = connect = img = (js,)
    directives = {
        "default-src": ("'self'",),
        "script-src": ("'self'", *script),
        "style-src": ("'self'",),
        "img-src": ("'self'", "data:", *img),
        "font-src": ("'self'",),
        "connect-src": ("'self'", *connect),
        "frame-src": frame,
        "form-action": ("'self'",),
        "base-uri": ("'none'",),
        "object-src": ("'none'",),
        "frame-ancestors": (frame_ancestors,),
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def security_headers(csp: str, *, https: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
        # Wallets and some banks confirm in a popup that must reach back to the page.
        "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers
