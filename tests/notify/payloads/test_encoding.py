"""Body bytes, times and links shared by every format."""

from __future__ import annotations

import math

from workers.notify.payloads.encoding import encode, iso_time, job_url


def test_encode_is_compact_sorted_ascii_and_has_no_nan_tokens() -> None:
    body = encode({"b": [math.nan, math.inf, -math.inf], "a": "é", "c": {"z": 1, "y": 0.5}})
    assert body == b'{"a":"\\u00e9","b":["NaN","Infinity","-Infinity"],"c":{"y":0.5,"z":1}}'


def test_the_same_payload_gives_the_same_bytes_whatever_its_key_order() -> None:
    assert encode({"x": 1, "y": {"b": 2, "a": 1}}) == encode({"y": {"a": 1, "b": 2}, "x": 1})


def test_iso_time_is_utc_with_milliseconds_and_none_for_no_real_time() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"
    assert iso_time(1_763_780_401.2509) == "2025-11-22T03:00:01.250Z"
    assert [iso_time(t) for t in (None, math.nan, math.inf, 1e20, -1e20)] == [None] * 5


def test_job_url_points_at_the_api_and_encodes_the_id() -> None:
    assert job_url("https://ftw.example/", "ftjob-1") == "https://ftw.example/v1/jobs/ftjob-1"
    assert job_url("https://ftw.example", "a/b c") == "https://ftw.example/v1/jobs/a%2Fb%20c"
    assert job_url(None, "ftjob-1") is None
    assert job_url("", "ftjob-1") is None
