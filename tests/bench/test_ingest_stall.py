"""Smoke run of bench/ingest_stall.py: every batch accepted, a round trip measured."""

from __future__ import annotations

from bench.ingest_stall import measure
from service.api import ingest_slices
from tests.support import RedisServer


async def test_both_ways_of_working_a_batch_are_measured(redis_server: RedisServer) -> None:
    sliced = ingest_slices.SLICE
    try:
        for size in (sliced, 500):
            worst = await measure(size, 1, redis_server.url)
            assert len(worst) == 1 and worst[0] > 0
    finally:
        ingest_slices.SLICE = sliced
