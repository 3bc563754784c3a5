"""Pollers: discover jobs, fetch their new events, append them to `ftwatch:events`."""
