"""Parse an uploaded JSONL file of questions, keeping the good lines and reporting each bad one."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import re
import sys
from dataclasses import dataclass
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.tasks.families import typed_question
from lrm_lab.tasks.question import Question

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 5_000_000
MAX_QUESTIONS = 5000
MAX_LABEL_CHARS = 128  # maximum length of an id or a family label
# A file with more invalid lines than this is most likely not a question file at all, and
# stopping here bounds the number of LineError objects a hostile upload can create.
MAX_LINE_ERRORS = MAX_QUESTIONS
KEYS = ("question", "answer", "id", "family")

_EXAMPLE = '{"question": "What is 2 + 3?", "answer": 5}'
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # also the start of the UTF-32 byte order marks
_SHOWN_ERRORS = 3  # line errors quoted in the message for a file without a good question

# Control characters and lone UTF-16 surrogates: a JSON string can contain them as \u escapes,
# but they do not belong in a prompt, and a lone surrogate cannot even be encoded as UTF-8.
# Question and answer text may contain tabs and line breaks, while an id or a family may not.
_INVALID_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_INVALID_IN_LABEL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class FileQuestion:
    """One good line of a question file."""

    line: int  # 1-based line number in the file
    label: str  # the line's id, or "line N" when it has none
    question: Question


@dataclass(frozen=True)
class LineError:
    """One invalid line of a question file."""

    line: int  # 1-based line number in the file
    message: str  # what is wrong on that line and how to fix it


@dataclass(frozen=True)
class QuestionFile:
    """The good questions of an uploaded file and the errors of its invalid lines."""

    name: str
    questions: tuple[FileQuestion, ...]
    errors: tuple[LineError, ...]


def parse_question_file(data: bytes | str, name: str = "questions.jsonl") -> QuestionFile:
    """Parse a JSONL file with one question object per line.

    Invalid lines become `LineError`s and the good lines are kept. Raises `InputError` when the
    file as a whole is unusable: too large, too many questions or invalid lines, or no good
    question at all.
    """
    raw = _file_bytes(data, name)
    questions: list[FileQuestion] = []
    errors: list[LineError] = []
    labels: dict[str, int] = {}  # label -> the line that first used it

    # Binary line iteration splits on b"\n" only, so line numbers match what an editor shows
    # for both \n and \r\n files. json.loads treats the trailing \r\n as whitespace.
    for number, raw_line in enumerate(io.BytesIO(raw), start=1):
        try:
            text = _decode(raw_line)
            if not text.strip():
                continue
            questions.append(_parse_line(number, text, labels))
        except InputError as error:
            errors.append(LineError(number, str(error)))
        _check_counts(name, questions, errors)

    if not questions:
        raise InputError(_no_question_message(name, errors))
    logger.info("Parsed question file %r: %d questions, %d invalid lines", name, len(questions), len(errors))
    return QuestionFile(name=name, questions=tuple(questions), errors=tuple(errors))


# ---- The whole file --------------------------------------------------------------------


def _file_bytes(data: bytes | str, name: str) -> bytes:
    """Check the file's size and encoding, and return its bytes without a UTF-8 byte order mark."""
    if isinstance(data, str):
        if len(data) > MAX_FILE_BYTES:  # every character takes at least one byte
            raise InputError(_too_large_message(name, len(data)))
        # A lone surrogate becomes bytes that the per-line decoding reports as invalid UTF-8.
        data = data.encode("utf-8", errors="surrogatepass")
    elif not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"parse_question_file expects bytes or str, not {type(data).__name__}")

    if len(data) > MAX_FILE_BYTES:
        raise InputError(_too_large_message(name, len(data)))
    if data.startswith(_UTF16_BOMS):
        raise InputError(f"{name} is encoded as UTF-16 or UTF-32. Save it as UTF-8 and upload it again.")
    return bytes(data.removeprefix(_UTF8_BOM))


def _too_large_message(name: str, size: int) -> str:
    return (
        f"{name} is {size:,} bytes, but the maximum is {MAX_FILE_BYTES:,} bytes. "
        f"Split it into smaller files of at most {MAX_QUESTIONS} questions."
    )


def _check_counts(name: str, questions: list[FileQuestion], errors: list[LineError]) -> None:
    if len(questions) > MAX_QUESTIONS:
        raise InputError(
            f"{name} has more than {MAX_QUESTIONS} questions. Split it into files of at most {MAX_QUESTIONS} questions."
        )
    if len(errors) > MAX_LINE_ERRORS:
        raise InputError(
            f"{name} has more than {MAX_LINE_ERRORS} invalid lines, so it is probably not a JSONL file of questions. "
            f"The first errors: {_quote_errors(errors)}"
        )


def _no_question_message(name: str, errors: list[LineError]) -> str:
    if not errors:
        return f"{name} contains no questions. Write one JSON object per line, such as {_EXAMPLE}."
    more = len(errors) - _SHOWN_ERRORS
    message = f"{name} contains no valid question. {_quote_errors(errors)}"
    if more > 0:
        message += f" {more} more lines are invalid."
    return message


def _quote_errors(errors: list[LineError]) -> str:
    return " ".join(f"Line {error.line}: {error.message}" for error in errors[:_SHOWN_ERRORS])


# ---- One line --------------------------------------------------------------------------


def _decode(raw_line: bytes) -> str:
    try:
        return raw_line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"The line is not valid UTF-8: byte 0x{raw_line[error.start]:02x} at byte {error.start + 1} "
            "cannot be decoded. Save the file with UTF-8 encoding."
        ) from error


def _parse_line(number: int, text: str, labels: dict[str, int]) -> FileQuestion:
    """Build the question of one non-blank line, or raise InputError saying what is wrong."""
    record = _load_object(text)
    unknown = [key for key in record if key not in KEYS]
    if unknown:
        names = ", ".join(_show(key) for key in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise InputError(f"Unknown key{plural} {names}. The keys are question, answer, id and family.")

    # The label is claimed before the other checks, so that a duplicate id is reported even
    # when the line that used it first has another error.
    label = _claim_label(number, record.get("id"), labels)
    question_text = _question_text(record)
    reference = _reference(record)
    family = _family(record.get("family"))

    # typed_question checks the lengths of the question and the reference answer.
    question = typed_question(question_text, reference)
    return FileQuestion(line=number, label=label, question=dataclasses.replace(question, family=family))


def _load_object(text: str) -> dict[str, Any]:
    try:
        record = json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise InputError(
            f"The line is not valid JSON: {error.msg} at column {error.colno}. "
            f"Write one JSON object per line, such as {_EXAMPLE}."
        ) from error
    except RecursionError as error:
        raise InputError(
            f"The line nests arrays or objects too deeply to parse. Write a flat object such as {_EXAMPLE}."
        ) from error
    except InputError:
        raise
    except ValueError as error:
        # Python rejects integers with more digits than sys.get_int_max_str_digits().
        raise InputError(
            f"The line contains an integer of more than {sys.get_int_max_str_digits()} digits, "
            "which is too long to read. Write it as a string."
        ) from error

    if not isinstance(record, dict):
        raise InputError(f"The line must be a JSON object, not {_json_type(record)}. Write it like {_EXAMPLE}.")
    return record


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in pairs:
        if key in record:
            raise InputError(f"The key {_show(key)} appears twice. Keep only one of them.")
        record[key] = value
    return record


def _reject_constant(name: str) -> None:
    raise InputError(f"{name} is not a valid JSON number. Write a finite number or a string.")


# ---- Fields ----------------------------------------------------------------------------


def _claim_label(number: int, value: Any, labels: dict[str, int]) -> str:
    """Return the line's label and record it, rejecting one that an earlier line already uses."""
    if value is None:
        label = f"line {number}"
    else:
        label = _id_text(value)

    first = labels.get(label)
    if first is not None:
        if value is None:
            raise InputError(
                f"This line has no id, so its label would be {label!r}, but line {first} uses that as its id. "
                "Add an id to this line."
            )
        raise InputError(f"The id {_show(label)} is already used on line {first}. Give each question its own id.")
    labels[label] = number
    return label


def _id_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"'id' must be a string or an integer, not {_describe(value)}.")
    text = str(value)
    if not text.strip():
        raise InputError("'id' is empty. Remove the key or write an id.")
    _check_label_text("id", text)
    return text


def _family(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InputError(f"'family' must be a string, not {_describe(value)}.")
    _check_label_text("family", value)
    return value


def _check_label_text(key: str, text: str) -> None:
    if len(text) > MAX_LABEL_CHARS:
        raise InputError(f"'{key}' is {len(text)} characters long, but the maximum is {MAX_LABEL_CHARS}. Shorten it.")
    _check_characters(key, text, _INVALID_IN_LABEL)


def _question_text(record: dict[str, Any]) -> str:
    if "question" not in record:
        raise InputError(f"The key 'question' is missing. Write the question text under it, such as {_EXAMPLE}.")
    text = record["question"]
    if not isinstance(text, str):
        raise InputError(f"'question' must be a string, not {_describe(text)}.")
    if not text.strip():
        raise InputError("'question' is empty. Write the question text.")
    _check_characters("question", text, _INVALID_IN_TEXT)
    return text


def _reference(record: dict[str, Any]) -> str:
    if "answer" not in record:
        raise InputError(f"The key 'answer' is missing. Add the reference answer, such as {_EXAMPLE}.")
    value = record["answer"]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"'answer' must be a string or a number, not {_describe(value)}.")
    if isinstance(value, float) and not math.isfinite(value):  # 1e400 overflows to inf when parsed
        raise InputError("'answer' is a number too large for a float. Write it as a string, such as \"1e400\".")

    # NOTE: str() writes large and small floats in exponent notation, such as 1e+20, which
    # typed_question classifies as a text answer rather than a number.
    reference = str(value)
    if not reference.strip():
        raise InputError("'answer' is empty. Write the reference answer.")
    _check_characters("answer", reference, _INVALID_IN_TEXT)
    return reference


def _check_characters(key: str, text: str, invalid: re.Pattern[str]) -> None:
    match = invalid.search(text)
    if match is not None:
        raise InputError(
            f"'{key}' contains the invalid character U+{ord(match.group()):04X} at position {match.start() + 1}. "
            "Remove it."
        )


# ---- Describing values in messages -----------------------------------------------------

_MAX_SHOWN_CHARS = 40  # a value quoted in a message is cut to this length


def _cut(text: str) -> str:
    """Return `text` cut short, so that a huge value cannot flood a message."""
    if len(text) > _MAX_SHOWN_CHARS:
        return text[:_MAX_SHOWN_CHARS] + "…"
    return text


def _show(text: str) -> str:
    return repr(_cut(text))


def _describe(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {_cut(str(value))}"
    return _json_type(value)


def _json_type(value: Any) -> str:
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true or false",
    }
    return names.get(type(value), "null")
