"""What every channel shares: a message as a button-less chat reads it, and its pieces as long
as the channel's capabilities allow."""

from __future__ import annotations

from datetime import timedelta

from bot.channels.base import Capabilities, as_text, pieces
from bot.messages import Button, OutboundMessage

BUTTONS = Capabilities(
    buttons=True, text_limit=40, caption_limit=20, reply_window=None,
    document_by_link=frozenset({"pdf"}), typed_commands=True, reads_outbox=False,
)  # fmt: skip
NUMBERED = Capabilities(
    buttons=False, text_limit=40, caption_limit=40, reply_window=timedelta(hours=24),
    document_by_link=None, typed_commands=False, reads_outbox=False,
)  # fmt: skip
CHOICES = [[Button("Română", "lang:ro"), Button("English", "lang:en")]]


def test_buttons_render_as_numbered_options_then_the_hint() -> None:
    message = OutboundMessage(
        "Alegeți limba:",
        [
            [Button("Română", "lang:ro"), Button("English", "lang:en")],
            [Button("Site", "site", url="https://childpact.org")],
            [Button("Русский", "lang:ru")],
        ],
    )
    message.choice_hint = "Răspundeți cu numărul opțiunii."  # type: ignore[attr-defined]
    assert as_text(message) == (
        "Alegeți limba:\n\n"
        "Site: https://childpact.org\n\n"
        "1. Română\n2. English\n3. Русский\n\n"
        "Răspundeți cu numărul opțiunii."
    )


def test_a_message_without_buttons_is_its_text() -> None:
    assert as_text(OutboundMessage("  Salut  ")) == "Salut"


def test_a_chat_with_buttons_reads_the_text_alone_in_pieces_within_its_limit() -> None:
    text = "Adunarea generală are loc pe 12 mai la Chișinău, în sala mare."
    found = pieces(OutboundMessage(text, CHOICES), BUTTONS)
    assert len(found) > 1 and all(len(piece) <= BUTTONS.text_limit for piece in found)
    assert " ".join(found) == text
    assert not any("Română" in piece for piece in found)  # the buttons go as buttons


def test_a_chat_without_buttons_reads_the_choices_numbered_at_the_end() -> None:
    found = pieces(OutboundMessage("Alegeți limba:", CHOICES), NUMBERED)
    assert all(len(piece) <= NUMBERED.text_limit for piece in found)
    assert found[-1].endswith("1. Română\n2. English")


def test_a_file_type_goes_by_link_where_the_platform_fetches_it() -> None:
    assert BUTTONS.takes_by_link("pdf")
    assert not BUTTONS.takes_by_link("json")
    assert NUMBERED.takes_by_link("json")  # None: the chat shows a link to any file


def test_choices_the_text_already_explains_are_left_out_rather_than_numbered() -> None:
    # A rating of 0 to 10 typed as its value: "1. 0", "2. 1" would make "3" mean two things.
    scale = [Button(str(n), f"sv:a:7:{n}") for n in range(11)]
    rating = OutboundMessage(
        text="Support, 0 to 10?\n\nReply with a number from 0 to 10.",
        buttons=[scale[:6], scale[6:]],
        choice_hint="Reply with the number of your choice.",
        typed_in_text=True,
    )
    assert as_text(rating) == "Support, 0 to 10?\n\nReply with a number from 0 to 10."
    assert [b.payload for b in rating.choices()] == [b.payload for b in scale]  # still tappable
