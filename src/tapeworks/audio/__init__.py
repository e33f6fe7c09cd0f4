"""Reading audio files: one probe (`probe.py`) and one decoder (`decode.py`) for every part.

Infrastructure: imports no domain. The speech pipeline decodes at 16 kHz mono through
`iter_chunks`; production decodes at its render rate through `decode_blocks`; uploads are
verified by `probe_audio`; everything reports an `AudioInfo`.
"""
