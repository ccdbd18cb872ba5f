"""Every text a tool returned in an interop run, checked against the speech contract and
spoken by a real speech engine.

The interop tests append each tool result's text (and each notification) to
`$ARMATURE_SPOKEN_DIR/texts.jsonl` (tests/interop/spoken.py). The first test runs the
contract itself over every distinct text: `armature speech-check FILE`, the same checks as
the Rust lint (src/tasks/words/contract.rs), so there is one definition. The second speaks
every distinct text with espeak-ng at its default rate to a WAV file, measures it with sox,
and fails on any text longer than one breath (7 seconds). It prints the ten longest and the
median.

Run it after the interop tests (scripts/test does), or alone against a texts file:

    ARMATURE_SPOKEN_TEXTS=path/to/texts.jsonl .venv/bin/python -m pytest -q -s tests/speech
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# One breath, as the speech contract has it (docs/voice.md).
BREATH_S = 7.0
# Fewer distinct texts than this means the interop run did not cover the tool set.
MIN_TEXTS = 50
INSTALL = "apt-get install espeak-ng sox"


def texts_file() -> Path:
    given = os.environ.get("ARMATURE_SPOKEN_TEXTS")
    if given:
        return Path(given)
    directory = os.environ.get("ARMATURE_SPOKEN_DIR")
    if not directory:
        raise AssertionError(
            "no texts to speak: set ARMATURE_SPOKEN_DIR to the directory the interop run wrote "
            "texts.jsonl into (scripts/test does), or ARMATURE_SPOKEN_TEXTS to a texts file"
        )
    return Path(directory) / "texts.jsonl"


def distinct_texts(path: Path) -> list[str]:
    """The distinct texts; texts that differ only in their digits are spoken once."""
    if not path.exists():
        raise AssertionError(f"{path} does not exist: run the interop tests with ARMATURE_SPOKEN_DIR set first")
    seen: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        text = json.loads(line)["text"]
        # The longest of a family is kept: it is the one that could break the breath.
        key = re.sub(r"\d+", "0", text)
        if key not in seen or len(text) > len(seen[key]):
            seen[key] = text
    return sorted(seen.values())


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if not found:
        raise AssertionError(f"the speech test needs {name} (Debian package {package}): {INSTALL}")
    return found


def spoken_seconds(espeak: str, soxi: list[str], text: str, workdir: Path) -> float:
    wav = workdir / (hashlib.sha1(text.encode()).hexdigest() + ".wav")
    # The text goes on stdin, so a text starting with a dash is not read as an option.
    subprocess.run([espeak, "-w", str(wav), "--stdin"], input=text.encode(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    out = subprocess.run([*soxi, str(wav)], check=True, capture_output=True, text=True, timeout=30)
    wav.unlink()
    return float(out.stdout.strip())


def armature_bin() -> str:
    path = Path(os.environ.get("ARMATURE_BIN", ROOT / "target" / "release" / "armature"))
    if not path.exists():
        raise AssertionError(
            f"the contract check needs the armature binary, missing at {path}: "
            "run `cargo build --release` or set ARMATURE_BIN (scripts/test does)"
        )
    return str(path)


def test_every_text_keeps_the_contract():
    path = texts_file()
    if not path.exists():
        raise AssertionError(f"{path} does not exist: run the interop tests with ARMATURE_SPOKEN_DIR set first")
    out = subprocess.run([armature_bin(), "speech-check", str(path)], capture_output=True, text=True, timeout=120)
    print("\n" + out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "")
    assert out.returncode == 0, f"texts that break the speech contract (docs/voice.md):\n{out.stdout}{out.stderr}"


def test_every_text_is_one_breath():
    espeak = tool("espeak-ng", "espeak-ng")
    soxi = [shutil.which("soxi")] if shutil.which("soxi") else [tool("sox", "sox"), "--i"]
    soxi.append("-D")
    texts = distinct_texts(texts_file())
    assert len(texts) >= MIN_TEXTS, (
        f"only {len(texts)} distinct texts were captured, {MIN_TEXTS} at least are needed: "
        "run the interop tests that call most tools first"
    )
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        seconds = list(pool.map(lambda t: spoken_seconds(espeak, soxi, t, Path(tmp)), texts))
    timed = sorted(zip(seconds, texts), reverse=True)
    print(f"\n{len(texts)} distinct texts, median {statistics.median(seconds):.1f} s spoken; the ten longest:")
    for s, t in timed[:10]:
        print(f"  {s:4.1f} s  {t}")
    too_long = [(s, t) for s, t in timed if s > BREATH_S]
    assert not too_long, f"{len(too_long)} texts take longer than {BREATH_S:.0f} s to say:\n" + "\n".join(
        f"  {s:.1f} s  {t}" for s, t in too_long
    )
