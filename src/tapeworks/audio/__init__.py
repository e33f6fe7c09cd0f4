"""Reading audio files: one probe (`probe.py`) and one decoder (`decode.py`) for every part,
and what the audio itself says about speech: voice activity (`vad.py`) and short-time
energy with one speech threshold (`energy.py`), used by transcription (windows, word
alignment, the timing repair) and by production (cut verification) alike.

Infrastructure: imports no domain. The speech pipeline decodes at 16 kHz mono through
`iter_chunks`; production decodes at its render rate through `decode_blocks`; uploads are
verified by `probe_audio`; everything reports an `AudioInfo`.
"""
