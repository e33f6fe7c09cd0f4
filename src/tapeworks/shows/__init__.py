"""Publishing: shows, podcast feeds, episode publication and share links.

Phase 1 holds the pure parts: feed rendering (`feed`), Apple's categories
(`categories`), artwork rules (`artwork`), show-notes sanitising (`notes`), chapters
(`chapters`) and the Podcast Index transcript JSON (`transcript_json`).
"""
