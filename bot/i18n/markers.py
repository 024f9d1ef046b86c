"""The marks that tell extraction a text is to be translated, and into which gettext domain."""


def C_(context: str, words: str) -> str:  # noqa: N802 - the gettext convention for a mark
    """Command words a member may type, for the members' catalogs (``messages``, context
    ``command``); the words are looked up in the member's language where they are used."""
    return words


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "translate later"
    """A text of the dashboard or the staff chat, for the secretariat's catalogs (``admin``);
    it is translated into the staff member's language where it is shown."""
    return text
