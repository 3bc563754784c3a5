"""Reading Redis streams through consumer groups: at-least-once with reclaim and dead letters."""
