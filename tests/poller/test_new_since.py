"""Which listed jobs were created since the previous sweep (pure)."""

from __future__ import annotations

from service.upstream.models import Job
from workers.poller.discovery import NewSince


def job(job_id: str, created_at: int, status: str = "succeeded") -> Job:
    return Job(id=job_id, status=status, created_at=created_at)


def new_ones(mark: NewSince, jobs: list[Job]) -> list[str]:
    return [j.id for j in jobs if mark.is_new(j)]


def test_a_first_sweep_finds_nothing_new_and_marks_the_newest() -> None:
    mark = NewSince(None)
    assert new_ones(mark, [job("c", 30), job("b", 20), job("a", 10)]) == []
    assert mark.next() == ("c", 30)


def test_an_empty_account_is_marked_so_every_later_job_is_new() -> None:
    mark = NewSince(None)
    assert mark.next() == ("", 0)
    later = NewSince(("", 0))
    assert new_ones(later, [job("b", 20), job("a", 10)]) == ["b", "a"]


def test_jobs_listed_above_the_mark_are_new_even_in_its_second() -> None:
    mark = NewSince(("b", 20))
    listing = [job("d", 21), job("c", 20), job("b", 20), job("x", 20), job("a", 10)]
    assert new_ones(mark, listing) == ["d", "c"]
    assert mark.next() == ("d", 21)


def test_a_mark_gone_from_the_listing_falls_back_to_creation_times() -> None:
    mark = NewSince(("gone", 20))
    assert new_ones(mark, [job("c", 25), job("b", 19), job("a", 30)]) == ["c"]


def test_the_mark_never_moves_back() -> None:
    mark = NewSince(("b", 20))
    assert new_ones(mark, [job("a", 10)]) == []
    assert mark.next() is None
    assert NewSince(("b", 20)).next() is None  # nothing listed: keep it
