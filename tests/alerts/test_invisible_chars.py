"""Issue #13 item 7: bidi controls and zero-width characters never reach an alert mail.

Every character of the class (`kzmon.textsafety.INVISIBLE`: the bidi embeddings, overrides,
isolates and marks, the zero-width space/joiners, word joiner, BOM, and the less common ones
such as the Arabic letter mark and tag characters) is planted in everything an article gives a
mail: title, text (the snippet), outlet name, URL, the titles of syndicated copies, and the
watchlist's name (the subject). The mail is rendered, sent to the real aiosmtpd server,
read back and searched, part by part and as raw bytes: none may survive, while the visible
text (including Kazakh and Russian letters and emoji) does.
"""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from kzmon.alerts import run_alerts
from kzmon.alerts.delivery import send_message
from kzmon.textsafety import (
    INVISIBLE,
    has_invisible,
    neutralise_url,
    safe_filename,
    strip_invisible,
)

from .conftest import article

#: The characters the issue names, then the rest of the class.
NAMED = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0x200B, 0x2010))]
NAMED += ["\u2060", "\ufeff"]
OTHERS = ["\u061c", "\u180e", "\u2061", "\u2064", "\u206a", "\u206f", "\ufff9", "\U000e0041"]
ALL = NAMED + OTHERS
SPOOF = "".join(ALL)


def _entity_forms(char: str) -> list[str]:
    """How a character could hide in HTML: raw, decimal and hex character references."""
    code = ord(char)
    return [char, f"&#{code};", f"&#x{code:x};", f"&#x{code:X};"]


def _assert_clean(text: str, where: str) -> None:
    for char in ALL:
        for form in _entity_forms(char):
            assert form not in text, f"U+{ord(char):04X} as {form!r} in {where}"


# ----------------------------------------------------------------------------- units


@pytest.mark.parametrize("char", ALL, ids=lambda c: f"U+{ord(c):04X}")
def test_every_character_of_the_class_is_removed(char: str) -> None:
    assert INVISIBLE.fullmatch(char)
    assert strip_invisible(f"Aty{char}rau") == "Atyrau"
    assert has_invisible(f"x{char}") and not has_invisible("Atyrau")


def test_visible_text_is_untouched() -> None:
    visible = "Атырау Ақтөбе Шымкент — «Жаңа» ‘quote’ 😀 👩🏽 ٢ עברית"
    assert strip_invisible(visible) == visible


def test_urls_keep_working_and_names_are_safe() -> None:
    url = "https://example.org/a\u202e/b\u200b?q=1"
    assert neutralise_url(url) == "https://example.org/a%E2%80%AE/b%E2%80%8B?q=1"
    assert safe_filename("report\u202efdp.exe") == "reportfdp.exe"
    assert safe_filename("../../etc/passwd") == "_.._etc_passwd"
    assert safe_filename("\u200b\u200b") == "attachment"
    assert safe_filename("a" * 300 + ".pdf").endswith(".pdf")
    assert len(safe_filename("a" * 300 + ".pdf")) == 120


# ----------------------------------------------------------------------- integration


def _parts(message: EmailMessage) -> dict[str, str]:
    return {
        "subject": str(message["Subject"]),
        "text part": message.get_body(("plain",)).get_content(),
        "html part": message.get_body(("html",)).get_content(),
    }


@pytest.mark.integration
def test_an_alert_mail_carries_no_invisible_character(
    token, index_records, write_watchlists, mailbox
) -> None:
    wid = f"{token}-bidi"
    path = write_watchlists(
        [
            {
                "id": wid,
                "name": f"Watch{SPOOF} Atyrau\u202egpj.exe",
                "query": token,
                "recipients": [f"{wid}@example.org"],
            }
        ]
    )
    text = f"Blast in Aty{SPOOF}rau. {token} police said.\u202e Ақтөбе\u2067 😀 " * 5
    main = article(
        token,
        "main",
        title=f"Report\u202efdp.exe {token} Aty\u200brau\u2066 Ақ\u200dтөбе",
        text=text,
        outlet_name=f"The Moscow{SPOOF} Times",
        content_hash=f"{token}-same",
    )
    main["url"] = main["canonical_url"] = f"https://example.org/{token}/m\u202ein\u200b"
    copy = article(
        token,
        "copy",
        title=f"Copy\u2067 {token}\u200f title\ufeff",
        text=text,
        outlet="rferl",
        outlet_name=f"RFE{SPOOF}/RL",
        content_hash=f"{token}-same",
    )
    index_records([main, copy])

    result = run_alerts(watchlists_path=path)
    assert (result.errors, result.emails_sent, result.entries_sent) == ([], 1, 1)
    [mail] = [m for m in mailbox.messages() if m["X-Kzmon-Watchlist"] == wid]
    parts = _parts(mail)
    for where, content in parts.items():
        _assert_clean(content, where)
    raw = mail.as_bytes()
    for char in ALL:
        assert char.encode("utf-8") not in raw
    both = parts["text part"] + parts["html part"]
    assert "Reportfdp.exe" in both and "Atyrau Ақтөбе" in both and "Copy " in both
    assert "Atyrau. " in both and "😀" in both  # the snippet, visible text kept
    assert parts["subject"].startswith("Watch Atyrau")
    assert "RFE/RL" in both and "The Moscow Times" in both
    assert re.search(r"https://example\.org/\S+/m%E2%80%AEin%E2%80%8B", both)


@pytest.mark.integration
def test_attachment_names_and_headers_are_neutralised_on_the_wire(mailbox) -> None:
    """Whatever builds a mail (alerts today, story reports later), delivery cleans it."""
    message = EmailMessage()
    message["Subject"] = f"Invoice\u202e{SPOOF}fdp.exe"
    message["To"] = "analyst@example.org"
    message.set_content("see attachment")
    message.add_attachment(
        b"%PDF-1.4", maintype="application", subtype="pdf", filename="invoice\u202efdp.exe"
    )
    send_message(message, attempts=1)
    [received] = mailbox.messages()
    _assert_clean(str(received["Subject"]), "subject")
    [attachment] = list(received.iter_attachments())
    assert attachment.get_filename() == "invoicefdp.exe"
    for char in ALL:
        assert char.encode("utf-8") not in received.as_bytes()
