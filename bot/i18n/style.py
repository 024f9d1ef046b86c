"""The translations' house style as checks: placeholders and markup kept, one script per
locale, Romanian comma-below letters, the polite pronoun as each style sheet writes it, button
labels quoted the way the buttons say them, one word for one thing, the register of Turkish and
Azerbaijani buttons, Ukrainian and Armenian punctuation, and no text over a platform's limit.
``docs/translations/`` describes the style per language; tests/i18n/test_style.py keeps it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog

from bot.i18n import LOCALES, LOCALES_DIR
from bot.i18n.catalogs import MEMBERS, load
from bot.i18n.scripts import CYRILLIC, serbian_latin, words_outside

# Message limits: WhatsApp's body is the shortest (Telegram takes 4096); a button label or a
# topic title longer than this is cut off on a phone's Telegram keyboard.
MESSAGE_LIMIT = 1600
BUTTON_LIMIT = 33
# Command words and answers members type are lists of spellings, Latin ones included on purpose.
TYPED_CONTEXTS = frozenset({"command", "answer", "survey"})

BUTTONS = (
    "About ChildPact", "Another country", "Another time zone", "Answer the survey", "Back",
    "Back to settings", "Back to the menu", "No, go back", "UTC offsets",
    "Yes, withdraw my consent",
    "Change country", "Change language", "Change organisation", "Chat with ChildPact", "Close",
    "Close the conversation", "Continue later", "Continue the survey", "Delete me", "Done",
    "Link another chat", "Menu", "More topics", "My data", "No", "No, keep it",
    "No, keep them linked", "No, thanks", "Other topics", "Preferred channel", "Reply",
    "Resume the news", "Send", "Settings", "Skip", "Start a new conversation", "Stop the news",
    "Surveys", "Talk to the focal point", "Talk to the secretariat", "Tell me more", "Time zone",
    "Topics",
    "Unlink this chat", "Yes", "Yes, I agree", "Yes, delete everything", "Yes, unlink",
)  # fmt: skip
# Catalog texts that name a button: the translation names it as the button says it.
QUOTING = {
    "Which organisation do you work for? Type its name, or choose Skip.": "Skip",
    "Please also tell ChildPact's secretariat: choose Talk to the secretariat in the menu.":
        "Talk to the secretariat",
    "Tap your choices, then “Done”.": "Done",
    "If you would like to talk about it, ChildPact's safeguarding focal point is here for you: "
    "choose Talk to the focal point.": "Talk to the focal point",
}  # fmt: skip
# A topic's name is a button too, after a mark saying whether the member receives it ("✓ ").
TOPIC_CONTEXT = "topic"
TOPIC_MARK = 2

# Names and words that stay in Latin letters inside a Cyrillic, Georgian or Armenian text.
LATIN_NAMES = frozenset(
    "ChildPact Telegram WhatsApp JSON BSEC Messenger World Vision International Child "
    "Protection Index Safeguarding Policy Together for Children Stronger Coalitions in the "
    "Wider Black Sea Area Eurochild NGO Forum UNICEF".split()
)
# Locales whose quotations open low: „…“ (bg, sr, bs, sq) or „…” (ro).
LOW_HIGH_QUOTES = frozenset({"ro", "bg", "sr", "sr_Latn", "bs", "sq"})
_SENTENCE_INSIDE = r"(?<=[^.!?:\n—] )"
# The polite pronoun: (pattern of a wrong form, what the style sheet says).
PRONOUN: dict[str, tuple[str, str]] = {
    "bg": (r"(?<![А-Яа-я])(вие|ви|вас|ваш|ваша|ваше|ваши|вашия|вашият|вашата|вашето|вашите)"
           r"(?![А-Яа-я])", "Вие, Ви, Вас, Ваш… with a capital"),
    "sr": (r"(?<![А-Яа-яЂ-џ])(ви|вам|вас|вама|ваш|ваша|ваше|ваши|вашег|вашем|вашу|вашим|вашој|"
           r"ваших|вашима)(?![А-Яа-яЂ-џ])", "Ви, Вам, Вас, Ваш… with a capital"),
    "sr_Latn": (r"(?<![A-Za-zčćžšđČĆŽŠĐ])(vi|vam|vas|vama|vaš|vaša|vaše|vaši|vašeg|vašem|vašu|"
                r"vašim|vašoj|vaših|vašima)(?![A-Za-zčćžšđ])", "Vi, Vam, Vas, Vaš… with a capital"),
    "bs": (r"(?<![A-Za-zčćžšđČĆŽŠĐ])(vi|vam|vas|vama|vaš|vaša|vaše|vaši|vašeg|vašem|vašu|"
           r"vašim|vašoj|vaših|vašima)(?![A-Za-zčćžšđ])", "Vi, Vam, Vas, Vaš… with a capital"),
    "hy": (r"(?<![ա-ֆ])(դուք|ձեր|ձեզ|ձերը|ձեզնից|ձերոնք)(?![ա-ֆ])", "Դուք, Ձեր, Ձեզ with a capital"),
    "sq": (_SENTENCE_INSIDE + r"(Ju|Juaj|Tuaj|Tuaja|Juve|Tuajat)(?![a-zëç])|t'Ju(?![a-zëç])",
           "ju, juaj, tuaj in lower case inside a sentence"),
    "az": (_SENTENCE_INSIDE + r"(Siz|Sizə|Sizin|Sizi|Sizdən)(?![a-zəğıöşüç])",
           "siz, sizə, sizin in lower case inside a sentence"),
    "ru": (_SENTENCE_INSIDE + r"(Вы|Вам|Вас|Вами|Ваш|Ваша|Ваше|Ваши|Вашего|Вашей|Ваших|Вашу|"
           r"Вашим|Вашем|Вашими)(?![а-я])",
           "вы, вам, ваш in lower case inside a sentence"),
    "uk": (_SENTENCE_INSIDE + r"(Ви|Вам|Вас|Вами|Ваш|Ваша|Ваше|Ваші|Вашого|Вашої|Ваших|Вашу|"
           r"Вашим|Вашому|Вашій|Вашими)(?![а-яіїє])",
           "ви, вам, ваш in lower case inside a sentence"),
    "ro": (_SENTENCE_INSIDE + r"(Dumneavoastră)", "dumneavoastră in lower case"),
    "tr": (_SENTENCE_INSIDE + r"(Siz|Size|Sizin|Sizi|Sizden|Sizinle)(?![a-zçğıöşü])",
           "siz, size, sizin in lower case inside a sentence"),
}  # fmt: skip
# One word for one thing: words a style sheet rules out, per locale (the typed words aside).
TERMS: dict[str, tuple[tuple[str, str], ...]] = {
    "ru": ((r"(?i)\bканал", "a chat is «чат», never «канал» (a Telegram channel is another thing)"),),
    "uk": ((r"(?i)\bканал", "a chat is «чат», never «канал» (a Telegram channel is another thing)"),),
    "ro": ((r"(?i)\bdezleg", "unlinking a chat is «deconectați»"),
           (r"(?i)\bsondaj", "a survey is «chestionar»")),
    "sq": ((r"(?i)\bpyetësor", "a survey is «anketë»"),),
    "sr": ((r"Телеграм", "Telegram in Latin letters, «у Telegram-у»"),),
}  # fmt: skip
# The coalition's words, said one way in each language (style.md, "The coalition's words"): a
# text whose English has the word has the locale's word too (a pattern, for the word's forms).
GLOSSARY: dict[str, dict[str, str]] = {
    "survey": {"ro": "chestionar", "ru": "опрос", "bg": "анкет", "uk": "опитуван",
               "sr": "анкет", "sr_Latn": "anket", "bs": "anket", "sq": "anket", "tr": "anket",
               "az": "sorğu", "ka": "გამოკითხვ", "hy": "հարցում|հարցմ"},
    "secretariat": {"ro": "secretariat", "ru": "секретариат", "bg": "секретариат",
                    "uk": "секретаріат", "sr": "секретаријат", "sr_Latn": "sekretarijat",
                    "bs": "sekretarijat", "sq": "sekretariat", "tr": "sekretarya", "az": "katib",
                    "ka": "სამდივნო", "hy": "քարտուղարությ"},
    "focal point": {"ro": "persoana responsabilă", "ru": "ответственн", "bg": "отговорното лице",
                    "uk": "відповідальн", "sr": "задужен", "sr_Latn": "zadužen",
                    "bs": "zadužen", "sq": r"person\w* përgjegjës", "tr": "sorumlu kişi",
                    "az": "məsul şəxs", "ka": "პასუხისმგებელ", "hy": "պատասխանատու"},
    "coalition": {"ro": "coali", "ru": "коалиц", "bg": "коалиц", "uk": "коаліц", "sr": "коалициј",
                  "sr_Latn": "koalicij", "bs": "koalicij", "sq": "koalicion", "tr": "koalisyon",
                  "az": "koalisiya", "ka": "კოალიცი", "hy": "կոալիցիա"},
    "news": {"ro": "știri", "ru": "новост", "bg": "новин", "uk": "новин", "sr": "вест",
             "sr_Latn": "vest", "bs": "vijest", "sq": "lajm", "tr": "haber", "az": "xəbər",
             "ka": "სიახლე", "hy": "նորություն"},
}  # fmt: skip
# Turkish and Azerbaijani buttons are bare verb stems ("Gönder", "Katibliyə yaz"): a button
# ending in the "siz" imperative (-ın, -in, -un, -ün) speaks differently from its neighbours;
# the optative after s ("Hayır, kalsın": let it stay) is not one.
_SIZ_IMPERATIVE = re.compile(r"\b[a-zçğıöşüə]{3,}(?<!s)(?<!lar)(?<!ler)(?<!lər)y?[ıiuü]n$")
# Buttons in the formal register (style.md, open decision 1): the informal imperatives of the
# verbs buttons use, which the locales with a formal imperative on buttons rule out.
INFORMAL: dict[str, str] = {
    "ro": r"șterge|continuă|păstrează|trimite|alege|schimbă|răspunde|închide|omite|deconectează|"
          r"leagă|dezleagă|oprește|reia|începe|află|vorbește|contactează|scrie",
    "bg": r"изтрий|запази|продължи|смени|изпрати|затвори|пропусни|спри|започни|свържи|отговори|"
          r"попълни|разкачи|научи",
    "sr": r"настави|обриши|промени|пошаљи|затвори|прескочи|одговори|повежи|искључи|укључи|"
          r"започни|сазнај|разговарај|раздвоји|прекини|задржи",
    "sr_Latn": r"nastavi|obriši|promeni|pošalji|zatvori|preskoči|odgovori|poveži|isključi|"
               r"uključi|započni|saznaj|razgovaraj|razdvoji|prekini|zadrži",
    "bs": r"nastavi|obriši|promijeni|pošalji|zatvori|preskoči|odgovori|poveži|isključi|uključi|"
          r"započni|saznaj|razgovaraj|razdvoji|prekini|zadrži",
    "sq": r"vazhdo|fshi|ndrysho|dërgo|mbyll|kapërce|përgjigju|bisedo|fol|lidh|shkëput|ndalo|"
          r"rifillo|nis|mëso|mbaji",
    "ka": r"წამშალე|წაშალე|დატოვე|გააგრძელე|გამოტოვე|დაწერე|აირჩიე|გაგზავნე|დახურე|"
          r"მიწერე|შეცვალე|შეაჩერე|დაიწყე",
}  # fmt: skip
# Texts shown on a button that are not in BUTTONS (their length is the title's).
REGISTER_TOO = frozenset({"{title} (continue)"})
# Letters that belong to the script of a Cyrillic, Georgian or Armenian locale: a Latin word in
# such a text is English left behind, unless it is a name.
_NON_LATIN = {"ru", "uk", "bg", "ka", "hy"}
# Ukrainian writes the apostrophe as ’; Armenian separates clauses with the միջակետ ․ and ends
# sentences with ։, so an ASCII full stop inside a sentence is only right after an abbreviation.
_UK_APOSTROPHE = re.compile(r"[а-яієїґ]'[а-яієїґ]", re.IGNORECASE)
_HY_DOT = re.compile(r"(?<!\bթ)(?<!\bէլ)(?<!\bանգլ)(?<!\bմ)(?<=[\u0561-\u0587])\. [\u0561-\u0587]")
_PLACEHOLDER = re.compile(r"\{[a-z_]*\}|%\([a-z_]+\)[sd]|</?[a-z]+[^>]*>")
_QUOTED = re.compile(r"[„“”«\"]([^„“”«»\"]+)[“”»\"]")


def quoted(label: str, text: str) -> bool:
    """``label`` in ``text`` between quotation marks, as a button is named in a sentence."""
    return re.search(r"[„“”«\"]" + re.escape(label) + r"[“”»\"]", text) is not None


@dataclass(frozen=True)
class Finding:
    locale: str
    where: str  # a msgid, or knowledge topic.field
    what: str

    def __str__(self) -> str:
        return f"{self.locale}: {self.what}: {self.where[:70]!r}"


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def _source(message, index: int) -> str:
    if isinstance(message.id, tuple | list):
        return message.id[0] if index == 0 else message.id[1]
    return message.id


def _msgid(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def check_text(locale: str, text: str, source: str | None = None) -> list[str]:
    """What is wrong with one translated text, by the house style (an empty list: nothing)."""
    found = []
    if source is not None and sorted(_PLACEHOLDER.findall(text)) != sorted(
        _PLACEHOLDER.findall(source)
    ):
        found.append("placeholders or markup differ from the English")
    words = words_outside(text)
    if locale == "sr":
        latin = {w for w in re.findall(r"[A-Za-z\u00c0-\u024f]+", words) if w not in LATIN_NAMES}
        if latin:
            found.append(f"Latin letters in Serbian Cyrillic: {sorted(latin)}")
    if locale in ("sr_Latn", "bs", "ro", "sq", "tr", "az") and CYRILLIC.search(words):
        found.append("Cyrillic letters in a Latin-script locale")
    if locale in _NON_LATIN and re.search(r"[a-z]+", words):
        latin = {w for w in re.findall(r"[A-Za-z]+", words) if w not in LATIN_NAMES}
        if latin:
            found.append(f"Latin letters in {locale} text (English left behind?): {sorted(latin)}")
    for pattern, rule in TERMS.get(locale, ()):
        if re.search(pattern, words):
            found.append(f"terminology: {rule}")
    if locale == "uk" and _UK_APOSTROPHE.search(text):
        found.append("apostrophe: write ’, not '")
    if locale == "hy" and _HY_DOT.search(text):
        found.append("punctuation: an ASCII full stop inside an Armenian sentence (write ․ or ։)")
    if locale in LOW_HIGH_QUOTES and re.search(r"(^|[\s(])[“\"]\S", text):
        found.append('quotation marks: open with „ (low), not “ or "')
    if locale == "ro" and re.search("[şţŞŢ]", text):
        found.append("Romanian cedilla ş/ţ: write ș/ț (comma below)")
    if locale in PRONOUN and re.search(PRONOUN[locale][0], text):
        found.append(f"polite pronoun: {PRONOUN[locale][1]}")
    if len(text) > MESSAGE_LIMIT:
        found.append(f"longer than {MESSAGE_LIMIT} characters (a WhatsApp message)")
    return found


def glossary(locale: str, text: str, source: str) -> list[str]:
    """The coalition's words the English ``source`` has and the translation says otherwise."""
    return [
        f"glossary: {term!r} is said {GLOSSARY[term][locale]!r}"
        for term in GLOSSARY
        if locale in GLOSSARY[term]
        and re.search(rf"\b{term}s?\b", source, re.IGNORECASE)
        and not re.search(GLOSSARY[term][locale], text, re.IGNORECASE)
    ]


def check_catalog(locale: str, catalog: Catalog, english: Catalog | None = None) -> list[Finding]:
    """Every style finding in one locale's members' catalog."""
    findings: list[Finding] = []
    for message in catalog:
        if not message.id or message.context in TYPED_CONTEXTS:
            continue
        for i, text in enumerate(_strings(message)):
            if not text:
                continue
            findings += [
                Finding(locale, _msgid(message), what)
                for what in check_text(locale, text, _source(message, i))
            ]
        findings += [
            Finding(locale, _msgid(message), what)
            for what in glossary(locale, _strings(message)[0], _msgid(message))
        ]
        findings += _button(locale, message)
    for msgid, button in QUOTING.items():
        text, label = catalog.get(msgid), catalog.get(button)
        if text and label and label.string and not quoted(label.string, text.string):
            findings.append(
                Finding(locale, msgid, f"does not name the button as it says: {label.string!r}")
            )
    return findings


def limit(key: str, context: str | None = None) -> int:
    """How many characters a text may have: a button's label, a news topic's name on its
    button after the mark, or a message."""
    if context == TOPIC_CONTEXT:
        return BUTTON_LIMIT - TOPIC_MARK
    if key in BUTTONS and not context:
        return BUTTON_LIMIT
    return MESSAGE_LIMIT


def check_button(locale: str, text: str) -> list[str]:
    """What is wrong with a button label besides its length: its register."""
    if locale in ("tr", "az") and _SIZ_IMPERATIVE.search(text.lower()):
        return ["button in the «siz» imperative: use the verb stem"]
    if locale in INFORMAL and re.search(rf"(?<!\w)({INFORMAL[locale]})(?!\w)", text.lower()):
        return ["button in the informal register: use the formal imperative or a noun"]
    return []


def _button(locale: str, message) -> list[Finding]:
    """A button label: short enough for a phone, and in the register of the other buttons."""
    label, text = _msgid(message), _strings(message)[0]
    most = limit(label, message.context)
    if label in REGISTER_TOO:
        return [Finding(locale, label, what) for what in check_button(locale, text)]
    if most == MESSAGE_LIMIT:
        return []
    found = [Finding(locale, label, what) for what in check_button(locale, text)]
    if len(text) > most:
        found.append(Finding(locale, label, f"button label over {most} characters"))
    return found


def load_knowledge(locale: str, directory: Path = LOCALES_DIR) -> dict:
    with (directory / locale / "knowledge.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def knowledge_texts(data: dict) -> dict[str, str]:
    """The texts members read in one knowledge base (titles, answers, more), by topic.field;
    the example questions are how members ask and are left out."""
    out = {}
    for section in ("topics", "smalltalk"):
        for key, topic in (data.get(section) or {}).items():
            for field in ("title", "answer", "more"):
                if topic.get(field):
                    out[f"{section}.{key}.{field}"] = " ".join(str(topic[field]).split())
    return out


def command_words(catalog: Catalog) -> dict[str, list[str]]:
    """Each English command word ("stop", "language") and the words that locale answers to."""
    words: dict[str, list[str]] = {}
    for message in catalog:
        if message.context == "command" and isinstance(message.id, str):
            said = [w.strip().lower() for w in (message.string or message.id).split(",")]
            words |= {english.strip(): said for english in message.id.split(",")}
    return words


def check_knowledge(locale: str, directory: Path = LOCALES_DIR) -> list[Finding]:
    """Style findings in one locale's knowledge texts, and buttons quoted unlike the buttons."""
    texts = knowledge_texts(load_knowledge(locale, directory))
    english = knowledge_texts(load_knowledge("en", directory))
    catalog = load(MEMBERS, locale, directory)
    findings = [
        Finding(locale, where, what)
        for where, text in texts.items()
        for what in check_text(locale, text)
        if not what.startswith("longer") or not where.endswith(".title")
    ]
    commands = command_words(catalog)
    for where, text in texts.items():
        for name in _QUOTED.findall(english.get(where, "")):
            if name in commands and locale != "en":
                said = [q.strip().lower() for q in _QUOTED.findall(text)]
                if not any(q in commands[name] for q in said):
                    findings.append(
                        Finding(locale, where, f"tells members to type {name!r} with a word the "
                                               f"bot does not answer to ({commands[name]})")
                    )  # fmt: skip
        if where in english:
            findings += [
                Finding(locale, where, what) for what in glossary(locale, text, english[where])
            ]
        if where.endswith(".title") and len(text) > BUTTON_LIMIT:
            findings.append(Finding(locale, where, f"title over {BUTTON_LIMIT} characters"))
        for name in _QUOTED.findall(english.get(where, "")):
            if name in BUTTONS and locale != "en":
                label = catalog.get(name)
                if label and label.string and not quoted(label.string, text):
                    findings.append(
                        Finding(locale, where, f"quotes the button {name!r} unlike "
                                               f"the button itself ({label.string!r})")
                    )  # fmt: skip
    return findings


def check_serbian_latin(directory: Path = LOCALES_DIR) -> list[Finding]:
    """sr_Latn is the letter-for-letter transliteration of sr (the typed words aside)."""
    findings = []
    cyrillic, latin = load(MEMBERS, "sr", directory), load(MEMBERS, "sr_Latn", directory)
    for message in cyrillic:
        if not message.id or message.context in TYPED_CONTEXTS:
            continue
        other = latin.get(message.id, context=message.context)
        want = [serbian_latin(s) for s in _strings(message)]
        if other is None or _strings(other) != want:
            findings.append(Finding("sr_Latn", _msgid(message), "not the transliteration of sr"))
    sr_texts = knowledge_texts(load_knowledge("sr", directory))
    lat_texts = knowledge_texts(load_knowledge("sr_Latn", directory))
    for where, text in sr_texts.items():
        if lat_texts.get(where) != serbian_latin(text):
            findings.append(Finding("sr_Latn", where, "not the transliteration of sr"))
    return findings


def check_all(directory: Path = LOCALES_DIR) -> list[Finding]:
    findings: list[Finding] = []
    for locale in LOCALES:
        if locale == "en":
            continue
        findings += check_catalog(locale, load(MEMBERS, locale, directory))
        findings += check_knowledge(locale, directory)
    return findings + check_serbian_latin(directory)
