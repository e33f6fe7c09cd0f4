"""HTTP plumbing shared by every domain's endpoints and the pages (no domain rules here):
request dependencies (`deps`), streaming upload intake (`intake`), byte ranges and
downloads from the object store (`ranges`)."""
