"""Parsing of uploaded JSONL question files: good lines kept, bad lines reported by number."""

from __future__ import annotations

import json
import time

import pytest

from lrm_lab.errors import InputError
from lrm_lab.tasks.families import MAX_QUESTION_CHARS, MAX_REFERENCE_CHARS
from lrm_lab.tasks.question_file import (
    MAX_FILE_BYTES,
    MAX_LINE_ERRORS,
    MAX_QUESTIONS,
    parse_question_file,
)

GOOD = '{"question": "What is 2 + 3?", "answer": "5"}'


def jsonl(*records) -> str:
    """Return one line per record: dicts are written as JSON, strings as they are."""
    return "\n".join(record if isinstance(record, str) else json.dumps(record) for record in records) + "\n"


def only_error(text: str):
    """Parse a file of one bad line after one good line and return the bad line's error."""
    parsed = parse_question_file(GOOD + "\n" + text + "\n")
    assert [question.line for question in parsed.questions] == [1]
    assert len(parsed.errors) == 1
    assert parsed.errors[0].line == 2
    return parsed.errors[0]


def test_good_file_parsed():
    parsed = parse_question_file(
        jsonl(
            {"question": "What is 2 + 3?", "answer": "5", "id": "sum", "family": "arithmetic"},
            {"question": "Name the capital of France.", "answer": "Paris"},
            {"question": "What is 7 * 6?", "answer": 42, "id": 7},
        ),
        name="mine.jsonl",
    )

    assert parsed.name == "mine.jsonl"
    assert parsed.errors == ()
    assert [item.line for item in parsed.questions] == [1, 2, 3]
    assert [item.label for item in parsed.questions] == ["sum", "line 2", "7"]

    first = parsed.questions[0].question
    assert first.text == "What is 2 + 3?"
    assert first.reference == "5"
    assert first.source == "typed"
    assert first.family == "arithmetic"
    assert first.answer_kind == "number"

    second = parsed.questions[1].question
    assert second.family is None
    assert second.answer_kind == "text"


def test_blank_lines_keep_line_numbers():
    text = "\n   \n" + GOOD + "\n\t\n\n" + '{"question": "Name a colour.", "answer": "red"}' + "\n\n"
    parsed = parse_question_file(text)
    assert [item.line for item in parsed.questions] == [3, 6]
    assert [item.label for item in parsed.questions] == ["line 3", "line 6"]
    assert parsed.errors == ()


def test_bad_lines_reported_good_kept():
    text = jsonl(
        GOOD,
        "not json",
        '["an", "array"]',
        {"answer": "5"},
        {"question": "Why?"},
        {"question": "What is 1 + 1?", "answer": "2", "anwser": "2"},
        GOOD,
    )
    parsed = parse_question_file(text)

    assert [item.line for item in parsed.questions] == [1, 7]
    assert [error.line for error in parsed.errors] == [2, 3, 4, 5, 6]
    messages = [error.message for error in parsed.errors]
    assert "not valid JSON" in messages[0]
    assert "must be a JSON object, not an array" in messages[1]
    assert "'question' is missing" in messages[2]
    assert "'answer' is missing" in messages[3]
    assert "Unknown key 'anwser'" in messages[4]
    assert "question, answer, id and family" in messages[4]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"question": "", "answer": "1"}', "'question' is empty"),
        ('{"question": "   ", "answer": "1"}', "'question' is empty"),
        ('{"question": 12, "answer": "1"}', "'question' must be a string, not the number 12"),
        ('{"question": "Q?", "answer": ""}', "'answer' is empty"),
        ('{"question": "Q?", "answer": null}', "'answer' must be a string or a number, not null"),
        ('{"question": "Q?", "answer": true}', "'answer' must be a string or a number, not true or false"),
        ('{"question": "Q?", "answer": [1, 2]}', "not an array"),
        ('{"question": "Q?", "answer": NaN}', "NaN is not a valid JSON number"),
        ('{"question": "Q?", "answer": 1e400}', "too large for a float"),
        ('{"question": "Q?", "answer": -Infinity}', "-Infinity is not a valid JSON number"),
        ('{"question": "Q?", "answer": "1", "id": 1.5}', "'id' must be a string or an integer, not the number 1.5"),
        ('{"question": "Q?", "answer": "1", "id": false}', "'id' must be a string or an integer, not true or false"),
        ('{"question": "Q?", "answer": "1", "id": " "}', "'id' is empty"),
        ('{"question": "Q?", "answer": "1", "id": "' + "x" * 129 + '"}', "'id' is 129 characters long"),
        ('{"question": "Q?", "answer": "1", "family": 3}', "'family' must be a string"),
        ('{"question": "Q?", "answer": "1", "family": "' + "f" * 129 + '"}', "'family' is 129 characters long"),
        ('{"question": "Q?", "answer": "1", "answer": "2"}', "The key 'answer' appears twice"),
        ('{"question": "Q?", "answer": "1", "a": 1, "b": 2}', "Unknown keys 'a', 'b'"),
        ("42", "must be a JSON object, not a number"),
        ('"just a string"', "must be a JSON object, not a string"),
        ('{"question": "Q?", "answer": "1"', "not valid JSON"),
    ],
)
def test_bad_field_reported(line, expected):
    error = only_error(line)
    assert expected in error.message


def test_long_question_reported():
    line = json.dumps({"question": "x" * (MAX_QUESTION_CHARS + 1), "answer": "1"})
    error = only_error(line)
    assert f"the maximum is {MAX_QUESTION_CHARS}" in error.message


def test_long_answer_reported():
    line = json.dumps({"question": "Q?", "answer": "9" * (MAX_REFERENCE_CHARS + 1)})
    error = only_error(line)
    assert f"the maximum is {MAX_REFERENCE_CHARS}" in error.message


def test_duplicate_id_names_first_line():
    text = jsonl(
        {"question": "A?", "answer": "1", "id": "q1"},
        {"question": "B?", "answer": "2", "id": "q2"},
        {"question": "C?", "answer": "3", "id": "q1"},
        {"question": "D?", "answer": "4", "id": 2},
        {"question": "E?", "answer": "5", "id": "2"},
    )
    parsed = parse_question_file(text)

    assert [item.label for item in parsed.questions] == ["q1", "q2", "2"]
    assert [error.line for error in parsed.errors] == [3, 5]
    assert "'q1' is already used on line 1" in parsed.errors[0].message
    # The integer id 2 and the string id "2" are the same label.
    assert "'2' is already used on line 4" in parsed.errors[1].message


def test_duplicate_id_of_invalid_line():
    text = jsonl({"question": "A?", "id": "q1"}, {"question": "B?", "answer": "2", "id": "q1"}, GOOD)
    parsed = parse_question_file(text)
    assert [error.line for error in parsed.errors] == [1, 2]
    assert "'answer' is missing" in parsed.errors[0].message
    assert "already used on line 1" in parsed.errors[1].message


def test_id_clashing_with_line_label():
    text = jsonl(
        {"question": "A?", "answer": "1", "id": "line 2"},
        GOOD,
        GOOD,
        {"question": "B?", "answer": "2", "id": "line 3"},
    )
    parsed = parse_question_file(text)

    assert [item.label for item in parsed.questions] == ["line 2", "line 3"]
    assert [error.line for error in parsed.errors] == [2, 4]
    assert "has no id" in parsed.errors[0].message
    assert "already used on line 3" in parsed.errors[1].message


def test_null_id_and_family_mean_absent():
    parsed = parse_question_file(jsonl({"question": "A?", "answer": "1", "id": None, "family": None}))
    assert parsed.questions[0].label == "line 1"
    assert parsed.questions[0].question.family is None


def test_numeric_answers():
    parsed = parse_question_file(
        jsonl(
            {"question": "A?", "answer": 42},
            {"question": "B?", "answer": -3},
            {"question": "C?", "answer": 0.5},
            {"question": "D?", "answer": 0},
        )
    )
    assert [item.question.reference for item in parsed.questions] == ["42", "-3", "0.5", "0"]
    assert {item.question.answer_kind for item in parsed.questions} == {"number"}


def test_bom_and_crlf():
    text = "\ufeff" + GOOD + "\r\n\r\n" + '{"question": "B?", "answer": "b"}' + "\r\n"
    for data in (text, text.encode("utf-8")):
        parsed = parse_question_file(data)
        assert parsed.errors == ()
        assert [item.line for item in parsed.questions] == [1, 3]
        assert parsed.questions[1].question.reference == "b"


def test_bom_only_at_start():
    parsed = parse_question_file(GOOD + "\n\ufeff" + GOOD + "\n")
    assert [error.line for error in parsed.errors] == [2]


def test_invalid_utf8_line():
    data = GOOD.encode() + b"\n" + b'{"question": "caf\xe9?", "answer": "1"}\n' + GOOD.encode()
    parsed = parse_question_file(data)
    assert [item.line for item in parsed.questions] == [1, 3]
    assert parsed.errors[0].line == 2
    assert "not valid UTF-8" in parsed.errors[0].message
    assert "0xe9" in parsed.errors[0].message


def test_utf16_file_rejected():
    with pytest.raises(InputError, match="UTF-16"):
        parse_question_file(GOOD.encode("utf-16"))


def test_lone_surrogate_in_str_input():
    parsed = parse_question_file(GOOD + "\n" + '{"question": "A\ud800?", "answer": "1"}' + "\n")
    assert parsed.errors[0].line == 2
    assert "not valid UTF-8" in parsed.errors[0].message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Raw control characters inside a JSON string are invalid JSON.
        ('{"question": "A\x00?", "answer": "1"}', "not valid JSON: Invalid control character"),
        ('{"question": "A\x1b[31m?", "answer": "1"}', "not valid JSON: Invalid control character"),
        # Escaped ones parse but are rejected.
        ('{"question": "A\\u0000?", "answer": "1"}', "'question' contains the invalid character U+0000 at position 2"),
        ('{"question": "A?", "answer": "1\\u0007"}', "'answer' contains the invalid character U+0007"),
        ('{"question": "A?", "answer": "1", "id": "a\\nb"}', "'id' contains the invalid character U+000A"),
        ('{"question": "A\\ud800?", "answer": "1"}', "invalid character U+D800"),
    ],
)
def test_control_characters_reported(line, expected):
    error = only_error(line)
    assert expected in error.message


def test_tabs_and_newlines_in_question_kept():
    parsed = parse_question_file(jsonl({"question": "Line one\nLine two\tend?", "answer": "1"}))
    assert parsed.questions[0].question.text == "Line one\nLine two\tend?"


def test_deep_nesting_reported():
    error = only_error('{"question": "A?", "answer": ' + "[" * 200_000 + "}")
    assert "nests arrays or objects too deeply" in error.message


def test_huge_integer_reported():
    error = only_error('{"question": "A?", "answer": ' + "9" * 5000 + "}")
    assert "integer of more than 4300 digits" in error.message


def test_long_unknown_key_cut_in_message():
    error = only_error(json.dumps({"question": "A?", "answer": "1", "k" * 100_000: 1}))
    assert "Unknown key" in error.message
    assert len(error.message) < 200


def test_oversize_file_rejected():
    line = json.dumps({"question": "x" * 1000, "answer": "1"}) + "\n"
    data = line * (MAX_FILE_BYTES // len(line) + 1)
    for upload in (data, data.encode()):
        with pytest.raises(InputError, match=f"the maximum is {MAX_FILE_BYTES:,} bytes"):
            parse_question_file(upload, name="big.jsonl")


def test_ten_megabyte_line_rejected():
    data = b'{"question": "' + b"x" * 10_000_000 + b'", "answer": "1"}\n'
    with pytest.raises(InputError, match="big.jsonl is 10,000,032 bytes"):
        parse_question_file(data, name="big.jsonl")


def test_file_at_size_limit_accepted():
    # About 4900 lines of 1020 bytes: just under both the byte limit and the question limit.
    line = json.dumps({"question": "x" * 990, "answer": "1"}) + "\n"
    data = line * (MAX_FILE_BYTES // len(line))
    assert len(data) <= MAX_FILE_BYTES
    assert len(data) // len(line) <= MAX_QUESTIONS
    parsed = parse_question_file(data)
    assert len(parsed.questions) == MAX_FILE_BYTES // len(line)


def test_too_many_questions_rejected():
    data = jsonl(*[{"question": f"What is {i} + 1?", "answer": i + 1} for i in range(MAX_QUESTIONS + 1)])
    with pytest.raises(InputError, match=f"more than {MAX_QUESTIONS} questions"):
        parse_question_file(data)


def test_max_questions_accepted():
    data = jsonl(*[{"question": f"What is {i} + 1?", "answer": i + 1} for i in range(MAX_QUESTIONS)])
    parsed = parse_question_file(data)
    assert len(parsed.questions) == MAX_QUESTIONS
    assert parsed.questions[-1].line == MAX_QUESTIONS


def test_too_many_invalid_lines_rejected():
    data = GOOD + "\n" + "{}\n" * (MAX_LINE_ERRORS + 1)
    with pytest.raises(InputError, match="probably not a JSONL file of questions") as caught:
        parse_question_file(data)
    assert "Line 2: The key 'question' is missing" in str(caught.value)


def test_empty_file_rejected():
    for data in ("", b"", "\n\n  \r\n", "\ufeff"):
        with pytest.raises(InputError, match="empty.jsonl contains no questions"):
            parse_question_file(data, name="empty.jsonl")


def test_no_good_question_quotes_errors():
    data = jsonl("oops", {"question": "A?"}, "[]", "{}", "{}")
    with pytest.raises(InputError, match="contains no valid question") as caught:
        parse_question_file(data, name="bad.jsonl")
    message = str(caught.value)
    assert "Line 1: The line is not valid JSON" in message
    assert "Line 2: The key 'answer' is missing" in message
    assert "Line 3: The line must be a JSON object" in message
    assert "Line 4" not in message
    assert "2 more lines are invalid" in message


def test_blank_file_of_max_size_fast():
    start = time.perf_counter()
    with pytest.raises(InputError, match="contains no questions"):
        parse_question_file(b"\n" * MAX_FILE_BYTES)
    # Five million blank lines took about 0.5 s on a 2-core CPU. The bound catches a
    # quadratic slowdown, not a slow machine.
    assert time.perf_counter() - start < 30
