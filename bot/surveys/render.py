"""A survey question as a member sees it on their channel: the text in the survey's language,
buttons or numbered options, the answer given so far, and the way back, on or to skip; used by
the survey handler and by the builder's preview."""

from __future__ import annotations

from bot.channels.registry import capabilities
from bot.i18n import Translator
from bot.messages import Button, OutboundMessage
from bot.storage.models import Survey
from bot.surveys import Step
from bot.surveys.answers import RATINGS, hint, label, shown, words

TICK = "✅ "


def question_message(
    survey: Survey, step: Step, t: Translator, channel: str
) -> tuple[OutboundMessage, list[str]]:
    """A question as the member sees it on their channel, and the payloads a typed number
    picks (single choices and yes/no only: a typed number means a rating's value)."""
    q = step.question
    assert q is not None
    can = capabilities(channel)
    base, numbered = survey.base_locale, not can.buttons
    taps = can.buttons or can.choice_taps  # WhatsApp: typed as numbered, tapped as a list too
    stored = step.answers.get(q.id)
    value = stored.value if stored is not None and not stored.skipped else None
    locale = step.response.locale  # the survey's texts by the chain; the rest is the member's
    lines = [label(q.text or {}, locale, base)]
    if q.hint:
        lines.append(label(q.hint, locale, base))
    rows: list[list[Button]] = []
    names = [label(o.get("label") or {}, locale, base) for o in q.options or []]
    if q.kind == "single":
        rows = [[Button(name, f"sv:a:{q.id}:{i}")] for i, name in enumerate(names)]
    elif q.kind == "yes_no":
        rows = [[Button(t("Yes"), f"sv:a:{q.id}:1"), Button(t("No"), f"sv:a:{q.id}:0")]]
    elif q.kind == "multiple":
        ticked = set(value or [])
        marked = [
            (TICK if str(o["key"]) in ticked else "") + n
            for o, n in zip(q.options, names, strict=True)
        ]
        if numbered:
            lines.append("\n".join(f"{i}. {name}" for i, name in enumerate(marked, 1)))
        if taps:
            rows = [[Button(name, f"sv:t:{q.id}:{i}")] for i, name in enumerate(marked)]
            rows.append([Button(t("Done"), f"sv:d:{q.id}")])
    elif q.kind in RATINGS and taps:
        low, high = RATINGS[q.kind]
        scale = [Button(str(n), f"sv:a:{q.id}:{n}") for n in range(low, high + 1)]
        rows = [scale] if len(scale) <= 5 else [scale[:6], scale[6:]]
    if value is not None and q.kind != "multiple":
        lines.append(t("Your answer so far: {answer}", answer=shown(q, value, locale, base, t)))
    if numbered and q.kind not in ("single", "yes_no"):
        lines.append(hint(q, t, numbered=numbered))
    elif q.kind in ("number", "date", "short_text"):
        lines.append(hint(q, t, numbered=numbered))
    choices = [b.payload for row in rows for b in row] if q.kind in ("single", "yes_no") else []
    if numbered:
        # Numbers pick options here, so going back and skipping are words.
        if step.response.path:
            lines.append(t("Write “{word}” to change your previous answer.",
                           word=words(t, "back")[0]))  # fmt: skip
        if not q.required:
            lines.append(t("Write “{word}” to skip this question.", word=words(t, "skip")[0]))
    else:
        nav = []
        if step.response.path:
            nav.append(Button(t("Back"), f"sv:b:{q.id}"))
        if not q.required:
            nav.append(Button(t("Skip"), f"sv:s:{q.id}"))
        nav.append(Button(t("Continue later"), f"sv:p:{q.id}"))
        rows.append(nav)
    # Where numbers are typed, a rating's or a multiple choice's taps come beside the text that
    # explains the typing, and stay out of it when they cannot be tapped.
    typed = numbered and q.kind not in ("single", "yes_no") and bool(rows)
    return OutboundMessage(text="\n\n".join(lines), buttons=rows, typed_in_text=typed), choices
