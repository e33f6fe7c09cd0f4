"""Helpers shared by every test module (and the benchmarks): where the shared data is,
audio writers, and API calls (upload, wait for a status). Test modules import from here,
never from each other."""
