"""A model's recipe covers the library code that shapes it, not only the settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import forecasting
from training.tracking import library_hash, recipe_hash


def test_a_change_to_the_library_changes_the_recipe(tmp_path: Path) -> None:
    copy = tmp_path / "forecasting"
    shutil.copytree(Path(forecasting.__file__).parent, copy)
    assert library_hash(copy) == library_hash()
    module = copy / "risk" / "features.py"
    module.write_text(module.read_text() + "\n# a one-line change\n")
    assert library_hash(copy) != library_hash()
    # Settings alone still tell recipes apart, and the same ones hash the same.
    assert recipe_hash({"kind": "risk", "seed": 0}) == recipe_hash({"seed": 0, "kind": "risk"})
    assert recipe_hash({"kind": "risk", "seed": 0}) != recipe_hash({"kind": "risk", "seed": 1})
