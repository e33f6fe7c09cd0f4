"""Search that finds moments: the query language, the folding rule and snippets.

`text` holds the one folding and tokenizing rule, `query` parses what users type and
compiles it for SQLite FTS5 and PostgreSQL, `snippets` marks the matched words.
"""
