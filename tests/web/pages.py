"""What the browser tests do on every page: sign in through the form, wait for a chart."""

from __future__ import annotations

from typing import Any


def sign_in(page: Any, key: str, goto: str = "/web/overview") -> None:
    """Open ``goto`` (which sends a stranger to the sign-in page), enter ``key``, and land
    back on ``goto``."""
    page.goto(goto)
    page.wait_for_url("**/web/sign-in**")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{goto.split('?')[0]}**")


def chart(page: Any, name: str, element: str = "#demand-chart") -> dict[str, Any]:
    """The uPlot chart ``name`` drawn in ``element``: its series labels, its axes' labels,
    how many values each series has, its columns and canvases."""
    # Waiting on a selector, not wait_for_function: that evaluates text as script, which
    # the pages' Content-Security-Policy refuses (as it should).
    page.wait_for_selector(f"{element} canvas")
    return page.evaluate(
        f"""() => {{
            const u = window.ordercast.charts['{name}'];
            return {{
                labels: u.series.map((s) => s.label),
                axes: u.axes.map((a) => a.label),
                points: u.data.map((col) => col.filter((v) => v !== null).length),
                data: u.data,
                canvases: u.root.querySelectorAll('canvas').length,
                width: u.width,
            }};
        }}"""
    )
