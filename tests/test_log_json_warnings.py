"""With --log-json a library's warning is a JSON line on stderr like every other line."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import warnings
from ordercast.logs import configure_logging
configure_logging(json_lines={json_lines})
warnings.warn("The least populated class in y has only 2 members", UserWarning)
"""


def stderr_of(json_lines: bool) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(json_lines=json_lines)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stderr


def test_a_warning_is_a_json_record_with_log_json() -> None:
    lines = [line for line in stderr_of(True).splitlines() if line.strip()]
    assert lines, "the warning was not written at all"
    records = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    assert any("least populated class" in r["message"] for r in records)
    assert all(r["level"] == "warning" for r in records)


def test_without_log_json_the_warning_still_reaches_a_person() -> None:
    assert "least populated class" in stderr_of(False)
