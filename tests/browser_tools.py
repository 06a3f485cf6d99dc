"""Helpers shared by the browser tests."""


def type_value(page, selector: str, value: str):
    """Type into a field until the value sticks (the page's initialisation can reset early input)."""
    field = page.locator(selector).first
    for _ in range(10):
        field.fill(value)
        field.press("Tab")
        page.wait_for_timeout(500)
        if field.input_value() == value:
            return
    raise AssertionError(f"{selector} did not keep the value {value}")
