"""Vocabulary benchmark: uncommon names written right by Whisper with the vocabulary given
as `hotwords`, as an initial prompt, and not at all, side by side in one run; and what the
vocabulary costs on recordings that do not contain its terms (word error rate).

    PYTHONPATH=src .venv/bin/python bench/bench_vocabulary.py [--model base]

Recordings: espeak-ng (two voices) saying sentences full of names Whisper base gets wrong
("Siobhan Quaid" as "Shivanna Quaid", "Ljubljana" as "Yubiana"); JFK and sample.wav from
../shared/data/speech with the same vocabulary (their words must not change). Not part of
the test suite; figures vary with the machine. Goals: issue 15.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.paths import SPEECH_DIR  # noqa: E402

from tapeworks.speech import pipeline  # noqa: E402
from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file  # noqa: E402

NAMES = ("This morning I spoke with Siobhan Quaid about the move to Ljubljana. "
         "Siobhan Quaid said the office in Ljubljana opens in March. "
         "Then Tadeusz Wojcik called from Szczecin about the Przybylski contract. "
         "Our coach, Aoife Nakagawa, meets Gwendolyn Achterberg on Thursday.")
NAMES_TWO = ("Gwendolyn Achterberg and Tadeusz Wojcik will fly to Ljubljana next week. "
             "Please send Siobhan Quaid the notes from Szczecin.")
TERMS = ["Siobhan Quaid", "Ljubljana", "Tadeusz Wojcik", "Szczecin", "Przybylski",
         "Aoife Nakagawa", "Gwendolyn Achterberg"]
JFK = ("And so, my fellow Americans, ask not what your country can do for you, ask what "
       "you can do for your country.")


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def _espeak(path: Path, text: str, voice: str) -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-g", "6", "-w", str(path), text],
                   check=True, capture_output=True)
    return path


def _sample_reference() -> str:
    rows = [line.split(None, 5) for line in (SPEECH_DIR / "sample.stm").read_text().splitlines()
            if line.strip() and not line.startswith(";;")]
    return " ".join(r[5] for r in rows if len(r) == 6)


def _transcribe(path: Path, mode: str, model: str, model_dir: str) -> tuple[str, float]:
    options = TranscribeOptions(model=model, model_dir=model_dir, num_speakers=1)
    real_run = pipeline._Run
    if mode == "hotwords":
        options.hotwords = ", ".join(TERMS)
    elif mode == "prompt":
        def with_prompt(*a: object, **k: object) -> pipeline._Run:
            run = real_run(*a, **k)  # type: ignore[arg-type]
            run.prompt = ", ".join(TERMS) + "."
            return run
        pipeline._Run = with_prompt  # type: ignore[assignment,misc]
    started = time.perf_counter()
    try:
        text = transcribe_file(path, options).text()
    finally:
        pipeline._Run = real_run  # type: ignore[misc]
    return text, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="base")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = [
            ("names, espeak en-us", _espeak(folder / "a.wav", NAMES, "en-us"), NAMES, True),
            ("names, espeak en-gb+m7", _espeak(folder / "b.wav", NAMES_TWO, "en-gb+m7"), NAMES_TWO, True),
            ("jfk.flac (no names)", SPEECH_DIR / "jfk.flac", JFK, False),
            ("sample.wav (no names)", SPEECH_DIR / "sample.wav", _sample_reference(), False),
        ]
        models = str(folder / "models")
        print(f"Whisper {args.model}; vocabulary of {len(TERMS)} terms: {', '.join(TERMS)}\n")
        print(f"{'recording':26} {'mode':9} {'names right':>12} {'WER':>6} {'seconds':>8}")
        for label, path, reference, has_names in files:
            for mode in ("none", "hotwords", "prompt"):
                text, seconds = _transcribe(path, mode, args.model, models)
                said = [t for t in TERMS if _norm(t) in _norm(reference)]
                right = [t for t in said if _norm(t) in _norm(text)]
                wer = jiwer.wer(_norm(reference), _norm(text))
                names = f"{len(right)}/{len(said)}" if has_names else "-"
                print(f"{label:26} {mode:9} {names:>12} {wer:6.1%} {seconds:8.1f}")
                if has_names and mode != "prompt":
                    print(f"    {text}")


if __name__ == "__main__":
    main()
