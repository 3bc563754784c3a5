"""Providers: the upstream accounts ftwatch watches, each behind service.providers.base."""
