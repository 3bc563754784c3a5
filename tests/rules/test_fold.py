"""Folding one job's entries of a batch into one commit, in sequence order (pure)."""

from __future__ import annotations

from service.models.firing import Firing, JobFacts
from workers.rules.detectors.threshold import ThresholdState
from workers.rules.engine import RuleState
from workers.rules.fold import fold_job, job_entries
from workers.rules.plan import Decision
from workers.rules.state_codec import load_state
from workers.rules.view import RulesView
from workers.stream.consumer import Disposition, Entry, Fields

EMPTY = RulesView()
JOB = JobFacts(id="ftjob-1")


def decide(view: RulesView, fields: Fields) -> Decision:
    """Records the order: the state `seen` lists, as digits, every sequence decided so far.

    Odd sequences fire and schedule a resume; `fired_count` records the resumes seen.
    """
    seq, seen = int(fields["s"]), view.state("seen")
    state = RuleState(
        detector=ThresholdState(),
        episode=seq if seen is None else seen.episode * 10 + seq,
        fired_count=view.resumes.get("odd", 0),
    )
    decision = Decision(states={"seen": state})
    if seq % 2:
        firing = Firing(firing_id=f"f{seq}", rule="odd", kind="x", job=JOB, reason="", fired_at=0)
        decision.firings.append(firing)
        decision.resumed_by.append("odd")
    return decision


def pairs(*seqs: int, deliveries: int = 1) -> list[tuple[int, Entry]]:
    return [(seq, Entry(f"{seq}-0", {"j": "ftjob-1", "s": str(seq)}, deliveries)) for seq in seqs]


def test_events_are_decided_in_sequence_order_each_on_its_predecessors_state() -> None:
    fold = fold_job("ftjob-1", "7", EMPTY, pairs(3, 1, 2), decide)
    # Encoded once, from the last state: 1, 2, 3 in order; event 3 saw event 1's resume.
    assert fold.commit.states.keys() == {"seen"}
    assert load_state(fold.commit.states["seen"]) == RuleState(
        detector=ThresholdState(), episode=123, fired_count=1
    )
    assert fold.commit.seq == 3
    assert fold.commit.entries == ["1-0", "2-0", "3-0"]
    assert fold.commit.resumed_by == ["odd", "odd"]  # counters add up across the fold
    assert [Firing.model_validate_json(f).firing_id for f in fold.commit.firings] == ["f1", "f3"]
    assert fold.fired == ["odd", "odd"]
    assert fold.version == "7"  # guarded by the version the batch read
    assert fold.skipped == {}


def test_resumes_already_stored_are_counted_in_the_fold() -> None:
    view = RulesView(last_seq=1, resumes={"odd": 4})
    fold = fold_job("ftjob-1", "2", view, pairs(2, 3), decide)
    state = load_state(fold.commit.states["seen"])
    assert state is not None and state.fired_count == 4


def test_unreadable_events_are_parked_in_the_commit_in_order() -> None:
    def parked(view: RulesView, fields: Fields) -> Decision:
        return Decision(dead=[(fields["s"], "unreadable")])

    fold = fold_job("ftjob-1", "1", EMPTY, pairs(2, 1), parked)
    assert fold.commit.dead == [("1", "unreadable"), ("2", "unreadable")]
    assert (fold.commit.seq, fold.commit.entries, fold.fired) == (2, ["1-0", "2-0"], [])


def test_already_decided_events_are_acknowledged_without_a_decision() -> None:
    fold = fold_job("ftjob-1", "2", RulesView(last_seq=2), pairs(2, 3), decide)
    assert fold.skipped == {"2-0": Disposition.DONE}
    assert fold.commit.entries == ["3-0"]


def test_a_gap_holds_back_the_event_and_every_later_one() -> None:
    view = RulesView(last_seq=1)
    fold = fold_job("ftjob-1", "1", view, [*pairs(3), *pairs(4, deliveries=9)], decide)
    assert fold.skipped == {"3-0": Disposition.RETRY, "4-0": Disposition.RETRY}
    assert fold.commit.entries == []
    assert fold.commit.seq is None  # nothing decided: nothing to write


def test_a_gap_is_given_up_on_after_redeliveries_and_reported() -> None:
    fold = fold_job("ftjob-1", "1", RulesView(last_seq=1), pairs(5, 6, deliveries=2), decide)
    assert fold.commit.entries == ["5-0", "6-0"]
    assert fold.gaps == [3]


def test_entries_without_a_job_or_sequence_are_set_apart() -> None:
    good = Entry("1-0", {"j": "openai:ftjob-1", "s": "1"})
    foreign = [Entry("2-0", {"j": "openai:ftjob-1"}), Entry("3-0", {"s": "x", "j": "openai:a"})]
    by_job, others = job_entries([good, *foreign])
    assert by_job == {"openai:ftjob-1": [(1, good)]}
    assert others == foreign


def test_entries_of_the_version_before_providers_are_read_as_their_providers() -> None:
    polled = Entry("1-0", {"j": "ftjob-1", "s": "1", "e": '{"source":"openai"}'})
    pushed = Entry("2-0", {"j": "run-7", "s": "1", "e": '{"job_id":"run-7","source":"ingest"}'})
    by_job, _ = job_entries([polled, pushed])
    assert by_job == {"openai:ftjob-1": [(1, polled)], "ingest:run-7": [(1, pushed)]}
