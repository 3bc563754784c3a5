"""Folding one job's entries of a batch into one commit, in sequence order (pure)."""

from __future__ import annotations

from service.store.rule_state import Commit, StoredRules
from workers.rules.fold import fold_job, job_entries
from workers.stream.consumer import Disposition, Entry, Fields

EMPTY = StoredRules(version="7", last_seq=None, states={}, resumes={})


def decide(stored: StoredRules, fields: Fields, seq: int) -> tuple[Commit, list[str]]:
    """Records the order: the state `seen` lists every sequence decided before this one."""
    seen = stored.states.get("seen", "")
    fired = ["odd"] if seq % 2 else []
    return Commit(seq=seq, states={"seen": f"{seen}{seq},"}, resumed_by=fired), fired


def pairs(*seqs: int, deliveries: int = 1) -> list[tuple[int, Entry]]:
    return [(seq, Entry(f"{seq}-0", {"j": "ftjob-1", "s": str(seq)}, deliveries)) for seq in seqs]


def test_events_are_decided_in_sequence_order_each_on_its_predecessors_state() -> None:
    fold = fold_job("ftjob-1", EMPTY, pairs(3, 1, 2), decide)
    assert fold.commit.states == {"seen": "1,2,3,"}
    assert fold.commit.seq == 3
    assert fold.commit.entries == ["1-0", "2-0", "3-0"]
    assert fold.commit.resumed_by == ["odd", "odd"]  # counters add up across the fold
    assert fold.fired == ["odd", "odd"]
    assert fold.version == "7"  # guarded by the version the batch read
    assert fold.skipped == {}


def test_already_decided_events_are_acknowledged_without_a_decision() -> None:
    stored = StoredRules(version="2", last_seq=2, states={}, resumes={})
    fold = fold_job("ftjob-1", stored, pairs(2, 3), decide)
    assert fold.skipped == {"2-0": Disposition.DONE}
    assert fold.commit.entries == ["3-0"]


def test_a_gap_holds_back_the_event_and_every_later_one() -> None:
    stored = StoredRules(version="1", last_seq=1, states={}, resumes={})
    fold = fold_job("ftjob-1", stored, [*pairs(3), *pairs(4, deliveries=9)], decide)
    assert fold.skipped == {"3-0": Disposition.RETRY, "4-0": Disposition.RETRY}
    assert fold.commit.entries == []


def test_a_gap_is_given_up_on_after_redeliveries_and_reported() -> None:
    stored = StoredRules(version="1", last_seq=1, states={}, resumes={})
    fold = fold_job("ftjob-1", stored, pairs(5, 6, deliveries=2), decide)
    assert fold.commit.entries == ["5-0", "6-0"]
    assert fold.gaps == [3]


def test_entries_without_a_job_or_sequence_are_set_apart() -> None:
    good = Entry("1-0", {"j": "ftjob-1", "s": "1"})
    foreign = [Entry("2-0", {"j": "ftjob-1"}), Entry("3-0", {"s": "x", "j": "a"})]
    by_job, others = job_entries([good, *foreign])
    assert by_job == {"ftjob-1": [(1, good)]}
    assert others == foreign
