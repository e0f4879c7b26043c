"""The look of the pages: glassmorphism (translucent panels, blur, soft borders) in plain CSS,
and the same colours for the Payment Element through Stripe's Appearance API.

The colours are settings (`PAGES_*_COLOR`); the CSS reads them as custom properties from
`/pages/theme.css`, so no inline style is needed (the CSP allows none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Theme:
    primary: str = "#7c5cff"
    background: str = "#0f1226"
    text: str = "#eef0ff"
    danger: str = "#ff6b81"

    def css(self) -> str:
        return (
            ":root {\n"
            f"  --bl-primary: {self.primary};\n"
            f"  --bl-background: {self.background};\n"
            f"  --bl-text: {self.text};\n"
            f"  --bl-danger: {self.danger};\n"
            "}\n"
        )

    def appearance(self) -> dict[str, Any]:
        """Stripe's Appearance object for the Payment Element (`elements({appearance})`)."""
        return {
            "theme": "night",
            "variables": {
                "colorPrimary": self.primary,
                "colorBackground": "rgba(255, 255, 255, 0.08)",
                "colorText": self.text,
                "colorDanger": self.danger,
                "borderRadius": "12px",
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            },
            "rules": {
                ".Input": {
                    "backgroundColor": "rgba(255, 255, 255, 0.06)",
                    "border": "1px solid rgba(255, 255, 255, 0.18)",
                    "backdropFilter": "blur(8px)",
                },
                ".Tab": {"border": "1px solid rgba(255, 255, 255, 0.18)"},
            },
        }
