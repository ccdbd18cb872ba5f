"""Every text the assistant would read aloud, captured for the speech test (tests/speech)."""

from __future__ import annotations

import json
import os
from pathlib import Path


def capture_text(tool: str, text: str, kind: str = "result"):
    """Appends a text the assistant would read aloud to `$ARMATURE_SPOKEN_DIR/texts.jsonl`, for the
    speech test (tests/speech/test_spoken.py); nothing is written when the variable is unset."""
    directory = os.environ.get("ARMATURE_SPOKEN_DIR")
    if not directory or not text:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    line = json.dumps({"tool": tool, "kind": kind, "text": text}) + "\n"
    # One write per line, in append mode: lines from parallel writers stay whole.
    with open(Path(directory) / "texts.jsonl", "a", encoding="utf-8") as f:
        f.write(line)
