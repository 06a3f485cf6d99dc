"""Extraction of the final answer from a model completion.

`extract_answer` tries these steps in order, and the first that yields an answer wins:

1. the content of the last ``\\boxed{...}`` (nested braces allowed);
2. the value after the last answer marker: "Answer: X", "Final answer: X", "**Answer:** X",
   "The answer is X", "The answer to this problem is X" or a GSM8K-style "#### X";
3. a fallback that depends on the answer kind:
   - "number": the value after the last "=" on the last line that has one, else the last
     number in the text;
   - "expression": the last line that contains an arithmetic expression, without a
     trailing "= target";
   - "text": the last non-empty line.

A boxed or marked value that contains no answer of the requested kind falls through to the
next step, so "Answer: see above" does not hide a number written earlier.
"""

from __future__ import annotations

import ast
import re

from lrm_lab.tasks.question import AnswerKind

# Stored with every verdict: bump it whenever a change here can change what is extracted.
EXTRACTOR_VERSION = "2"  # 2: numbers that label list items and steps are skipped

_BOXED_OPENING = re.compile(r"\\(?:boxed|fbox)\s*\{")

_ANSWER_MARKER = re.compile(
    r"\b(?:final\s+)?answer\s*\**\s*[:：]"  # Answer: / Final answer: / **Answer:** / **Final Answer**:
    r"|\banswer\b[^\n.:]{0,80}?\bis\b\s*:?"  # The answer is / the answer to this problem is
    r"|^[ \t]*####",  # GSM8K-style "#### 42"
    re.IGNORECASE | re.MULTILINE,
)

# A minus sign counts only where it cannot be a subtraction: "5-3" ends in 3, "is -61" in -61.
_NUMBER = re.compile(
    r"(?:(?<![\w)\].])-|(?<![\w.]))"
    r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)"  # 1,234 or 1234
    r"(?:\.\d+)?"  # 3.5
    r"(?:/\d+)?"  # 3/4
)

# A period followed by a space or the end of the text, so the period in "3.5" does not count.
_SENTENCE_END = re.compile(r"\.(?:\s|$)")

_EQUALS_SIGN = re.compile(r"(?<![<>=!])=(?!=)")

# Numbers that label list items or steps ("1. First", "2) Then", "Step 3:") are not answers.
_LIST_MARKER = re.compile(r"^\s*(?:step\s*\d+\s*[.):]?(?:[ \t]+|$)|\d+[.)][ \t]+)", re.IGNORECASE | re.MULTILINE)

# Runs of characters that can form an arithmetic expression. `_valid_runs` keeps those that parse.
_ARITHMETIC_RUN = re.compile(r"[\d\s()+\-*/.]+")

_LATEX_FRACTION = re.compile(r"\\[dt]?frac\s*\{\s*(-?[\d.,]+)\s*\}\s*\{\s*(-?[\d.,]+)\s*\}")
_LATEX_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\s*\{([^{}]*)\}")

_OPERATOR_SPELLINGS = {
    "\\times": "*",
    "\\cdot": "*",
    "\\div": "/",
    "\\left": "",
    "\\right": "",
    "×": "*",
    "·": "*",
    "÷": "/",
    "−": "-",  # Unicode minus sign
}


def extract_answer(text: str, kind: AnswerKind = "number") -> str | None:
    """Return the final answer of the kind requested in a completion, or None if there is none.

    Numbers come back without thousands separators or trailing zeros ("1,234.50" -> "1234.5").
    Expressions come back with "*" and "/" for multiplication and division. Raises ValueError
    for an unknown kind.
    """
    if kind not in _READERS:
        raise ValueError(f"unknown answer kind {kind!r}; expected one of {sorted(_READERS)}")
    if not text or not text.strip():
        return None

    # Steps 1 and 2: an explicitly marked answer.
    read_value = _READERS[kind]
    for value in (_last_boxed(text), _last_marked_value(text)):
        if value is None:
            continue
        answer = read_value(value)
        if answer is not None:
            return answer

    # Step 3: the fallback for the answer kind.
    return _FALLBACKS[kind](text)


# ---- Step 1 and 2: marked values -------------------------------------------------------


def _last_boxed(text: str) -> str | None:
    """Return the content of the last complete \\boxed{...}, matching nested braces."""
    closing_of = _matching_braces(text)
    for opening in reversed(list(_BOXED_OPENING.finditer(text))):
        closing = closing_of.get(opening.end() - 1)
        if closing is not None:
            return text[opening.end() : closing]
    return None  # no box, or the completion was cut off inside every box


def _matching_braces(text: str) -> dict[int, int]:
    """Map the index of each "{" to the index of its "}", in one pass so that loops stay linear."""
    closing_of = {}
    open_indices = []
    for index, char in enumerate(text):
        if char == "{":
            open_indices.append(index)
        elif char == "}" and open_indices:
            closing_of[open_indices.pop()] = index
    return closing_of


def _last_marked_value(text: str) -> str | None:
    """Return the first sentence after the last answer marker, from the next line if its own is empty."""
    markers = list(_ANSWER_MARKER.finditer(text))
    if not markers:
        return None

    rest = text[markers[-1].end() :].lstrip()
    value = rest.split("\n", 1)[0]

    # "Answer: Answer: 110" repeats the marker.
    while (marker := _ANSWER_MARKER.match(value)) is not None:
        value = value[marker.end() :].lstrip()

    # Keep the first sentence only, because in "The answer is not obvious. 3 + 4 ..." the rest is reasoning.
    return _SENTENCE_END.split(value, 1)[0]


def _clean(value: str) -> str:
    """Strip Markdown emphasis, math delimiters, \\text{} wrappers and a trailing period."""
    value = _LATEX_TEXT.sub(r"\1", value)
    for delimiter in ("\\(", "\\)", "\\[", "\\]"):
        value = value.replace(delimiter, "")
    value = value.strip().strip("*`$").strip()
    return value.removesuffix(".").strip()


# ---- Numbers ---------------------------------------------------------------------------


def _number_in(value: str) -> str | None:
    """Return the first number after the last "=" in a marked value ("5 * 5 = 25" -> "25")."""
    value = _LATEX_FRACTION.sub(r"\1/\2", _clean(value))
    value = value.replace("{,}", ",").replace("−", "-")

    after_equals = _EQUALS_SIGN.split(value)[-1]
    match = _NUMBER.search(after_equals)
    return _normalise_number(match.group()) if match else None


def _number_fallback(text: str) -> str | None:
    """Return the value after "=" on the last line that has one, else the last number."""
    text = _LIST_MARKER.sub("", text.replace("−", "-"))

    # A worked line such as "5 * 5 = 25" states its result after the last "=".
    for line in reversed(text.splitlines()):
        parts = _EQUALS_SIGN.split(line)
        if len(parts) > 1:
            match = _NUMBER.search(parts[-1])
            if match:
                return _normalise_number(match.group())

    numbers = _NUMBER.findall(text)
    return _normalise_number(numbers[-1]) if numbers else None


def _normalise_number(number: str) -> str:
    """Drop thousands separators and trailing decimal zeros: "1,234.50" -> "1234.5", "25.0" -> "25"."""
    number = number.replace(",", "")
    if "." in number and "/" not in number:
        number = number.rstrip("0").removesuffix(".")
    return number


# ---- Expressions -----------------------------------------------------------------------


def _expression_in(value: str, require_operator: bool = False) -> str | None:
    """Return the longest arithmetic expression in one line, without a trailing "= target".

    A bare number counts only when `require_operator` is False, as for an explicit
    "Answer: 119": the scorer then marks it wrong instead of the answer going unparsed.
    """
    value = _clean(value)
    for spelling, operator in _OPERATOR_SPELLINGS.items():
        value = value.replace(spelling, operator)

    # "(67 - 50) * 7 = 119": prefer the side of an "=" that has an operator.
    sides = _EQUALS_SIGN.split(value)
    candidates = [run for side in sides for run in _valid_runs(side)]
    with_operator = [run for run in candidates if _has_operator(run)]
    if with_operator:
        return max(with_operator, key=len)
    if candidates and not require_operator:
        return candidates[0]
    return None


def _valid_runs(side: str) -> list[str]:
    """Return the runs of arithmetic characters in `side` that parse as arithmetic."""
    runs = []
    for match in _ARITHMETIC_RUN.finditer(side):
        run = _balance_parentheses(match.group().strip().rstrip(".").strip())
        if run and _is_arithmetic(run):
            runs.append(" ".join(run.split()))
    return runs


def _balance_parentheses(run: str) -> str:
    """Drop an unmatched "(" or ")" at either end, left over from prose such as "(so 3 + 4)"."""
    while run.startswith("(") and run.count("(") > run.count(")"):
        run = run[1:].strip()
    while run.endswith(")") and run.count(")") > run.count("("):
        run = run[:-1].strip()
    return run


_ARITHMETIC_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)


def _is_arithmetic(candidate: str) -> bool:
    """Return whether `candidate` uses only numbers, + - * / and parentheses ("**" is rejected)."""
    try:
        tree = ast.parse(candidate, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        # Python raises ValueError for an integer literal over its 4300-digit limit, and
        # MemoryError or RecursionError for deeply nested parentheses.
        return False

    for node in ast.walk(tree):
        is_number = isinstance(node, ast.Constant) and type(node.value) in (int, float)
        if not is_number and not isinstance(node, _ARITHMETIC_NODES):
            return False
    return True


def _has_operator(expression: str) -> bool:
    tree = ast.parse(expression, mode="eval")
    return any(isinstance(node, ast.BinOp) for node in ast.walk(tree))


def _expression_fallback(text: str) -> str | None:
    """Return the expression on the last line that has one with an operator."""
    for line in reversed(text.splitlines()):
        expression = _expression_in(line, require_operator=True)
        if expression is not None:
            return expression
    return None


# ---- Text ------------------------------------------------------------------------------


def _text_in(value: str) -> str | None:
    return _clean(value) or None


def _text_fallback(text: str) -> str | None:
    """Return the last non-empty line, cleaned."""
    for line in reversed(text.splitlines()):
        cleaned = _clean(line)
        if cleaned:
            return cleaned
    return None


_READERS = {"number": _number_in, "expression": _expression_in, "text": _text_in}
_FALLBACKS = {"number": _number_fallback, "expression": _expression_fallback, "text": _text_fallback}
