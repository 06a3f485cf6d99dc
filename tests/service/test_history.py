"""Listing stored runs and attempts: filters by model, recipe, family, run and date, and bad filter values."""

import dataclasses
from datetime import date, datetime, timedelta, timezone

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FAKE_INFO, FakeBackend
from lrm_lab.service.compare import CompareRequest, run_comparison
from lrm_lab.service.history import (
    HISTORY_COLUMNS,
    RUN_COLUMNS,
    attempt_dict,
    date_bounds,
    filter_choices,
    history_rows,
    load_attempt,
    parse_id,
    run_rows,
)
from lrm_lab.service.questions import build_question, question_from_record
from lrm_lab.tasks.question import Question

QUESTION = Question(text="What is 6 * 7?", reference="42", source="typed")


def compare(store, techniques, options=None, outputs=("Answer: 42",) * 8, model_id="fake", question=QUESTION):
    """Run a comparison on a fake backend called ``model_id`` and return its run id."""
    backend = FakeBackend(list(outputs))
    backend.info = dataclasses.replace(FAKE_INFO, model_id=model_id)
    updates = list(run_comparison(CompareRequest(question, techniques, options or {}), backend, store))
    return updates[-1].run_id


def column(rows, name):
    return [row[HISTORY_COLUMNS.index(name)] for row in rows]


@pytest.fixture
def filled(store):
    """Three runs: baseline and search(n=2) on "fake", baseline on "other", and a chain_sum question."""
    first = compare(store, ("baseline", "search"), {"search": {"n": 2}})
    second = compare(store, ("baseline",), model_id="other")
    family_question = build_question("family", "chain_sum", "", 1)
    third = compare(store, ("baseline",), outputs=("Answer: 1",), question=family_question)
    return store, (first, second, third)


def today(store):
    return store.list_attempts(limit=1)[0].created_at.date()


def test_rows_follow_columns(filled):
    store, _ = filled
    rows = history_rows(store, 10)
    assert len(rows) == 4
    assert all(len(row) == len(HISTORY_COLUMNS) for row in rows)
    assert column(rows, "recipe") == ["baseline", "baseline", "search(n=2)", "baseline"]
    assert column(rows, "family") == ["chain_sum", "typed", "typed", "typed"]


def test_filter_by_model_recipe_family_run(filled):
    store, (first, second, third) = filled
    assert column(history_rows(store, 10, model_id="other"), "run") == [second]
    assert column(history_rows(store, 10, recipe="search(n=2)"), "technique") == ["search"]
    assert column(history_rows(store, 10, family="chain_sum"), "run") == [third]
    assert sorted(column(history_rows(store, 10, run_id=first), "technique")) == ["baseline", "search"]
    assert column(history_rows(store, 10, run_id=str(first), technique="search"), "run") == [first]
    assert history_rows(store, 10, recipe="search(n=8)") == []


def test_filters_combine(filled):
    store, (first, _, _) = filled
    rows = history_rows(store, 10, model_id="fake", recipe="baseline", run_id=first)
    assert column(rows, "run") == [first]
    assert column(rows, "technique") == ["baseline"]


def test_until_includes_whole_day(filled):
    store, _ = filled
    day = today(store)
    assert len(history_rows(store, 10, since=day.isoformat(), until=day.isoformat())) == 4
    assert len(history_rows(store, 10, until=day.isoformat())) == 4
    assert len(history_rows(store, 10, since=day)) == 4


def test_dates_outside_exclude(filled):
    store, _ = filled
    day = today(store)
    assert history_rows(store, 10, since=(day + timedelta(days=1)).isoformat()) == []
    assert history_rows(store, 10, until=(day - timedelta(days=1)).isoformat()) == []
    assert run_rows(store, 10, since=(day + timedelta(days=1)).isoformat()) == []


def test_date_bounds_are_utc_midnights():
    start, end = date_bounds("2025-03-01", " 2025-03-01 ")
    assert start == datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert end == datetime(2025, 3, 2, tzinfo=timezone.utc)
    assert date_bounds("", None) == (None, None)
    assert date_bounds(date(2024, 12, 31), "")[0] == datetime(2024, 12, 31, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "since, until, words",
    [
        ("2025-13-01", "", "from date must be a UTC date written YYYY-MM-DD"),
        ("yesterday", "", "'yesterday'"),
        ("", "01/02/2025", "to date must be"),
        ("2025-02-30", "", "2025-02-30"),
        ("2025-03-02", "2025-03-01", "after the to date"),
    ],
)
def test_bad_dates_raise_input_error(store, since, until, words):
    with pytest.raises(InputError, match=words):
        history_rows(store, 10, since=since, until=until)
    with pytest.raises(InputError, match=words):
        run_rows(store, 10, since=since, until=until)


@pytest.mark.parametrize("run_id", ["abc", 0, -4, 1.5, "2.5", 2**63, True])
def test_bad_run_id_raises_input_error(store, run_id):
    with pytest.raises(InputError, match="run id must be a whole number"):
        history_rows(store, 10, run_id=run_id)


@pytest.mark.parametrize("limit", [0, 1001, None, float("nan")])
def test_bad_limit_raises_input_error(store, limit):
    with pytest.raises(InputError, match="between 1 and 1000"):
        history_rows(store, limit)


def test_run_rows_count_attempts(filled):
    store, (first, second, third) = filled
    rows = run_rows(store, 10)
    assert [row[0] for row in rows] == [third, second, first]
    assert all(len(row) == len(RUN_COLUMNS) for row in rows)
    by_id = {row[0]: dict(zip(RUN_COLUMNS, row)) for row in rows}
    assert by_id[first]["attempts"] == 2
    assert by_id[first]["techniques"] == "baseline, search"
    assert by_id[first]["kind"] == "compare"
    assert by_id[first]["status"] == "finished"
    assert by_id[second]["attempts"] == 1


def test_run_rows_filter_model_and_kind(filled):
    store, (_, second, _) = filled
    assert [row[0] for row in run_rows(store, 10, model_id="other")] == [second]
    assert run_rows(store, 10, kind="benchmark") == []
    with pytest.raises(InputError, match="Unknown run kind 'sweep'"):
        run_rows(store, 10, kind="sweep")


def test_filter_choices_list_stored_values(filled):
    store, _ = filled
    assert filter_choices(store) == {
        "models": ["fake", "other"],
        "recipes": ["baseline", "search(n=2)"],
        "families": ["chain_sum"],
    }


def test_attempt_dict_and_unknown_id(filled):
    store, _ = filled
    record = attempt_dict(store, 1)
    assert record["trace"] == "Answer: 42"
    assert record["run"]["settings"]["rerun_of"] is None
    with pytest.raises(InputError, match="No attempt with id 99"):
        load_attempt(store, 99)
    with pytest.raises(InputError, match="attempt id is missing"):
        load_attempt(store, None)


def test_parse_id_accepts_number_forms():
    assert parse_id(7, "run id") == 7
    assert parse_id(7.0, "run id") == 7
    assert parse_id(" 7 ", "run id") == 7
    assert parse_id("", "run id", optional=True) is None
    assert parse_id(None, "run id", optional=True) is None


def test_question_from_record_round_trip(store):
    question = build_question("family", "basic_arithmetic", "", 3)
    record = store.get_question(store.add_question(question))
    assert question_from_record(record) == question
