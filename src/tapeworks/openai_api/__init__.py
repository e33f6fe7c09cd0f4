"""OpenAI-compatible API: `/v1/audio/transcriptions` and `/v1/models` on our sessions."""
