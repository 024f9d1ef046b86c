"""An officer with no technical training runs a survey in a real browser (headless Chromium):
builds it without ever seeing an id, is told that Romanian is only half written (which texts,
and that Romanian members would read a mixture) in the builder's preview and again on the
launch page, launches it, reads the comparison by country as one panel per country with its n
(on a phone too, and as a table), and opens the list of who answered, with a link to each
member's page. Screenshots go to test-artifacts/admin/."""

from __future__ import annotations

import re

from sqlalchemy import update

from bot.storage.models import Contact
from bot.surveys import questions_of
from tests.harness import eventually
from tests.webhook.admin.test_browser import (
    PHONE,
    Browsing,
    async_api,  # noqa: F401 - a fixture
    editor,  # noqa: F401 - a fixture
    shoot,
)
from tests.webhook.admin.test_surveys_browser import members_in_two_countries


async def test_an_officer_builds_without_ids_is_warned_of_half_romanian_and_reads_who_answered(
    editor: Browsing,  # noqa: F811 - the fixture imported above
) -> None:
    board, page, expect = editor.board, editor.page, editor.expect
    romanian, moldovan = await members_in_two_countries(board)
    async with board.stack.service.db.session() as session, session.begin():
        for member, org in ((romanian, "Salvați Copiii"), (moldovan, "CNPAC Moldova")):
            await session.execute(
                update(Contact).where(Contact.address == member.address)
                .values(organisation=org)
            )  # fmt: skip
    await page.get_by_role("link", name="Surveys", exact=True).click()
    await page.get_by_role("link", name="New survey").click()

    # Building: texts only; the names used in exports wait, folded, under "Advanced".
    await page.locator("input[name='title:en']").fill("General Assembly 2027")
    await page.locator("select[name='add_locale']").select_option("ro")
    await page.get_by_role("button", name="Add", exact=True).click()
    await page.locator("input[name='title:ro']").fill("Adunarea Generală 2027")
    await page.locator("textarea[name='q0-text:en']").fill("Will your coalition attend?")
    await page.locator("textarea[name='q0-text:ro']").fill("Coaliția dvs. va participa?")
    await page.locator("input[name='q0-o0-label:en']").fill("Yes")
    await page.locator("input[name='q0-o0-label:ro']").fill("Da")
    await page.locator("input[name='q0-o1-label:en']").fill("No")  # no Romanian for it
    question = page.locator("#q0")
    await expect(question.get_by_text("Id", exact=True)).to_have_count(0)
    await expect(page.locator("input[name='q0-key']")).to_be_hidden()

    # The preview in Romanian names what is missing.
    await page.locator("select[name='preview_locale']").select_option("ro")
    warning = page.locator("#preview .warning.partial")
    await expect(warning).to_contain_text("Română is only partly written.")
    await expect(warning).to_contain_text(
        "Members who read Română would get a mixture of Română and English."
    )
    await expect(warning).to_contain_text("Question 1, option “No”")

    await page.get_by_role("button", name="Save the draft").click()
    await expect(page.locator(".warning.partial").first).to_contain_text("Question 1, option")
    await question.get_by_text("Advanced").click()
    await expect(page.locator("input[name='q0-key']")).to_have_value("will_your_coalition_attend")
    await expect(page.locator("input[name='q0-o1-key']")).to_have_value("no")
    await shoot(page, "survey-builder-no-ids")

    # Launching: the same warning, with how many members it concerns (the Moldovan member
    # reads Russian, which the survey lacks: Romanian is their fallback).
    await page.get_by_role("button", name="Save and choose who gets it").click()
    await expect(page.locator("main .warning.partial").first).to_contain_text(
        "Română is only partly written."
    )
    await expect(page.locator("#preview .warning.partial")).to_contain_text(
        "2 members who read Română would get a mixture of Română and English."
    )
    await shoot(page, "survey-launch-half-romanian")
    await page.get_by_role("button", name="Open the survey and invite them").click()
    found = re.search(r"/admin/surveys/(\d+)", page.url)
    assert found
    survey_id = int(found.group(1))
    async with board.stack.service.db.session() as session:
        q = {x.key: x.id for x in await questions_of(session, survey_id)}
    assert list(q) == ["will_your_coalition_attend"]

    async def invited() -> bool:
        return bool(await romanian.replies()) and bool(await moldovan.replies())

    await eventually(invited, timeout=30)
    await romanian.tap(f"survey:{survey_id}")
    await romanian.tap(f"sv:a:{q['will_your_coalition_attend']}:0")
    await moldovan.say("меню")
    await moldovan.tap("menu:surveys")
    await moldovan.tap(f"survey:{survey_id}")
    await moldovan.say("2")

    # The comparison: a panel per country with its n, each bar a share of that country.
    await page.get_by_role("link", name="Results", exact=True).click()
    await expect(page.locator("#finished")).to_have_text("2", timeout=20_000)
    await page.get_by_label("Compare by").select_option("country")
    await page.get_by_role("button", name="Show").click()
    chart = page.locator("#result-will_your_coalition_attend")
    panels = chart.locator("figure.panel")
    await expect(panels).to_have_count(2)
    romania = panels.filter(has_text="Romania")
    await expect(romania.locator("figcaption")).to_contain_text("n = 1")
    await expect(romania.locator("tr", has_text="Yes")).to_contain_text("100%")
    await expect(panels.filter(has_text="Moldova").locator("tr", has_text="No")).to_contain_text(
        "100%"
    )
    await chart.get_by_text("Show as a table").click()
    table = chart.locator("table.compare")
    await expect(table).to_be_visible()
    await expect(table.locator("thead")).to_contain_text("Moldova (n = 1)")
    await page.set_viewport_size(PHONE)
    sideways = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert sideways <= 0, "the comparison scrolls sideways on a phone"
    box = await panels.nth(1).bounding_box()
    first = await panels.nth(0).bounding_box()
    assert box and first and box["y"] > first["y"]  # one under the other on a phone
    await shoot(page, "survey-compare-by-country")

    # Who answered: each member linked to their page, complete or not.
    await page.get_by_role("link", name="Who answered").click()
    rows = page.locator("table.respondents tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.filter(has_text="CNPAC Moldova")).to_contain_text("WhatsApp")
    await expect(rows.filter(has_text="Salvați Copiii")).to_contain_text("Complete")
    await expect(page.get_by_role("link", name="Export as CSV")).to_have_attribute(
        "href", f"/api/surveys/{survey_id}/respondents.csv"
    )
    await shoot(page, "survey-respondents")
    await rows.filter(has_text="CNPAC Moldova").get_by_role("link").click()
    await expect(page).to_have_url(re.compile(r"/admin/members/\d+$"))
    await expect(page.locator("main")).to_contain_text("CNPAC Moldova")
    assert not editor.problems, editor.problems
