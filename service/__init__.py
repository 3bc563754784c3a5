"""ftwatch service: configuration, shared models, Redis access, upstream client and HTTP API."""
