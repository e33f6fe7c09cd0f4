"""`/v1/audio/transcriptions` overhead (issue 14): total time of one call with the official
`openai` client on a long recording, over the bare engine time in the same run.

    .venv/bin/python bench/bench_openai_api.py [--model tiny.en] [--minutes 10]

Prints figures; not part of the test suite. In one run: `transcribe_file` on a WAV made by
looping jfk.flac (the bare engine, model cache warm), then a real `tapeworks serve`
(`bench_pipeline.Service`, one worker, the same model, warmed with jfk.flac) and
`client.audio.transcriptions.create(model="whisper-1", response_format="verbose_json")`
on the same file: upload, probe, session, transcription, answer. Goal: ratio <= 1.10, as for
uploads. `TAPEWORKS_SYNC_MAX_SECONDS` is raised above the recording for longer runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import SPEECH, Service, loop_speech


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file

    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        src = loop_speech(tmp / "long.wav", args.minutes * 60)
        options = TranscribeOptions(engine="whisper", model=args.model,
                                    model_dir=str(tmp / "models"))
        transcribe_file(SPEECH / "jfk.flac", options)  # warm the model cache
        t0 = time.perf_counter()
        transcribe_file(src, options)
        bare = time.perf_counter() - t0

        os.environ["TAPEWORKS_SYNC_MAX_SECONDS"] = str(args.minutes * 60 + 60)
        svc = Service(tmp / "svc", workers=1, engine="whisper", model=args.model)
        try:
            r = httpx.post(f"{svc.url}/api/v1/auth/tokens", headers=svc.headers,
                           json={"name": "bench"})
            client = openai.OpenAI(base_url=f"{svc.url}/v1", api_key=r.json()["access_token"],
                                   max_retries=0, timeout=7200)
            with open(SPEECH / "jfk.flac", "rb") as fh:  # warm the worker's model cache
                client.audio.transcriptions.create(model="whisper-1", file=fh)
            t0 = time.perf_counter()
            with open(src, "rb") as fh:
                out = client.audio.transcriptions.create(model="whisper-1", file=fh,
                                                         response_format="verbose_json")
            ours = time.perf_counter() - t0
        finally:
            svc.stop()
    print(f"## /v1/audio/transcriptions ({args.minutes:g}-minute recording, Whisper {args.model})")
    print(f"bare transcribe_file               {bare:8.1f} s")
    print(f"openai client call (upload->answer) {ours:8.1f} s   {len(out.segments or [])} segments")
    print(f"ratio ours / bare                  {ours / bare:8.3f}    (goal <= 1.10)")


if __name__ == "__main__":
    main()
