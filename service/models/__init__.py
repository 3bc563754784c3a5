"""Models shared by every part: normalized events, job snapshots, firings."""
