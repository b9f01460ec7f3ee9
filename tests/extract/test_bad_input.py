"""Every kind of bad input gets an error record, and the run goes on (issue 4)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from enrich.extract import ExtractOptions, extract_page

GOOD_HTML = (
    "<html lang='en'><head><title>Good page</title></head><body><article><h1>Good page</h1>"
    + "<p>Security services in Kazakhstan detained three men in Atyrau on Monday, officials said."
    " The men are suspected of planning attacks on police stations in the west of the country.</p>"
    * 3
    + "</article></body></html>"
)
FIFTY_MB = 50 * 1024 * 1024


def _line(obj: object) -> bytes:
    return json.dumps(obj).encode("utf-8")


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("", "empty page"),
        ("   \n\t ", "empty page"),
        (None, "missing html"),
        (42, "html must be a string"),
        ("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary content"),
        ("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary content"),
        ("\x00\x01\x02\x03<html>" + "\x00\x07" * 50, "binary content"),
        ("Just some plain words, no markup at all, as a text/plain response.", "not HTML"),
        ('{"items": [1, 2, 3], "next": null}', "not HTML"),
        ("<html><body>caf\udce9 ol\udcc3\udca9</body></html>", "undecodable bytes"),
        ("<html><head></head><body>" + "<p>ok</p>" * 2000 + "\udce9</body></html>", "undecodable"),
        ("<html><body>" + "\ufffd" * 40 + "</body></html>", "undecodable bytes"),
        ("<html><head><title>x</title></head><body></body></html>", "no article text"),
    ],
)
def test_bad_page_gets_error_record(html: object, reason: str) -> None:
    record = extract_page({"url": "https://example.org/a", "html": html})
    assert record["url"] == "https://example.org/a"
    assert reason in record["error"]
    assert set(record) == {"url", "error"}


def test_page_over_the_size_limit_is_refused_before_parsing() -> None:
    html = "<html><body><p>" + "a" * FIFTY_MB + "</p></body></html>"
    record = extract_page({"url": "https://example.org/big", "html": html})
    assert record["error"].startswith("page too large")


def test_size_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KZMON_MAX_PAGE_BYTES", "200")
    record = extract_page({"url": "https://example.org/a", "html": GOOD_HTML})
    assert record["error"].startswith("page too large")
    monkeypatch.setenv("KZMON_MAX_PAGE_BYTES", "not-a-number")
    assert "error" not in extract_page({"url": "https://example.org/a", "html": GOOD_HTML})


def test_non_dict_page_gets_error_record() -> None:
    assert "error" in extract_page(["not", "a", "dict"])  # type: ignore[arg-type]


def test_good_page_still_extracts() -> None:
    record = extract_page({"url": "https://example.org/a", "html": GOOD_HTML}, ExtractOptions())
    assert "error" not in record
    assert record["title"] == "Good page"
    assert record["language"] == "en"
    assert record["text"].startswith("Security services in Kazakhstan")


def test_cli_one_record_per_line_in_order_and_exit_zero(run_cli) -> None:
    good = {"url": "https://example.org/good", "html": GOOD_HTML}
    lines = [
        _line(good),
        b"this is not json",
        _line({"url": "https://example.org/empty", "html": ""}),
        _line({"url": "https://example.org/bin", "html": "\x00\x01\x02\x03" * 100}),
        _line({"url": "https://example.org/text", "html": "plain text, no tags"}),
        b'{"url": "https://example.org/bytes", "html": "<html>\xff\xfe\xfa</html>"}',
        _line([1, 2, 3]),
        b"",
        _line({"url": "https://example.org/big", "html": "<html>" + "a" * FIFTY_MB}),
        _line(good),
    ]
    rc, records, stderr = run_cli(b"\n".join(lines) + b"\n")
    assert rc == 0, stderr
    assert len(records) == len(lines)
    assert [r.get("url") for r in records] == [
        "https://example.org/good",
        None,
        "https://example.org/empty",
        "https://example.org/bin",
        "https://example.org/text",
        "https://example.org/bytes",
        None,
        None,
        "https://example.org/big",
        "https://example.org/good",
    ]
    errors = [r.get("error", "") for r in records]
    assert errors[0] == "" and errors[-1] == ""
    assert errors[1].startswith("not JSON")
    assert errors[2] == "empty page"
    assert errors[3].startswith("binary content")
    assert errors[4] == "not HTML"
    assert errors[5].startswith("undecodable bytes")
    assert errors[6].startswith("not a JSON object")
    assert errors[7] == "empty input line"
    assert errors[8].startswith("page too large")
    for key in ("url", "title", "text", "language", "published_at"):
        assert key in records[0]


def test_cli_max_page_bytes_env(run_cli) -> None:
    env = {**os.environ, "KZMON_MAX_PAGE_BYTES": "100"}
    rc, records, _ = run_cli(_line({"url": "u", "html": GOOD_HTML}) + b"\n", env=env)
    assert rc == 0
    assert records[0]["error"].startswith("page too large")


class _BrokenStdin:
    """A stdin whose reads fail, as on a closed or revoked descriptor."""

    class _Buffer:
        def __iter__(self):
            raise OSError(5, "Input/output error")

    buffer = _Buffer()


def test_cli_exit_status_when_stdin_cannot_be_read(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture
) -> None:
    from enrich.extract import cli

    monkeypatch.setattr(sys, "stdin", _BrokenStdin())
    assert cli.main([]) == 1
    assert capsysbinary.readouterr().out == b""
