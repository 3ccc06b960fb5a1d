"""The Analytics tab and a release's funnel in a real browser, over daily usage rows
written directly (as the recorder adds them up): the figures, the adoption chart with
its legend and table, update checks and downloads, the CSV files, the form's refusals,
the keyboard, a phone's width, axe, and the refusal of an app one may not see.

The rows are those of a small, known population, so every figure is worked out by hand:
on the last day D,

- 60 installs on 1.0.0 check every day; 20 more on 1.0.0 once a week (D-2, D-9, ...);
- 30 installs on 1.1.0 appeared on D-9 and check every day;
- 10 on 1.2.0 appeared on D; 5 on a version the app never released checked on D-20;
- on the beta channel, 7 on 1.2.0 appeared on D-1 and check every day.

So 107 installs checked on D, 127 in the 7 days up to it and 132 in the 28.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.async_api import Locator, Page, expect

from ferryman.models import App
from ferryman.models import release as releases
from ferryman.models.actor import Actor, Role
from ferryman.models.usage import NEVER, NO_UPDATE, OTHER_VERSION
from tests.console.conftest import PHONE, Person, add_person, axe_violations, sign_in
from tests.support import rows
from tests.support.console import make_app, tab_to
from tests.support.usage import UsageRow, active, check, download, sketch, store

DAY = timedelta(days=1)
TAB = "/console/apps/alpha/analytics"
# Downloads in the range: (days before D, platform, country, downloads), all of 1.1.0.
DOWNLOADS = [
    (0, "darwin-aarch64", "DE", 12),
    (1, "darwin-aarch64", "US", 6),
    (3, "windows-x86_64", "US", 15),
    (9, "linux-x86_64", "XX", 3),
    (27, "windows-x86_64", "DE", 4),
]


def today() -> date:
    return datetime.now(UTC).date()


def population(app_id: str, last: date) -> list[UsageRow]:
    """The rows of the module's installs, up to ``last`` (see the docstring)."""
    found: list[UsageRow] = []
    for back in range(40):
        day = last - back * DAY
        found.append(active(app_id, day, 1, 60))
        found.append(check(app_id, day, 60 + back))
        if back % 7 == 2:
            found.append(active(app_id, day, 7, 20))
            found.append(check(app_id, day, 20, answer="1.1.0"))
        if back < 9:
            found.append(active(app_id, day, 1, 30, version="1.1.0"))
        if back == 9:
            found.append(active(app_id, day, NEVER, 30, version="1.1.0"))
        if back == 20:
            found.append(active(app_id, day, NEVER, 5, version=OTHER_VERSION))
    found.append(active(app_id, last, NEVER, 10, version="1.2.0"))
    found.append(sketch(app_id, last, range(0, 60)))
    found.append(sketch(app_id, last, range(60, 90), version="1.1.0"))
    found.append(sketch(app_id, last, range(90, 100), version="1.2.0"))
    found += [
        download(app_id, last - back * DAY, count, version="1.1.0", platform=p, country=c)
        for back, p, c, count in DOWNLOADS
    ]
    found.append(download(app_id, last - 30 * DAY, 1000, version="1.1.0"))  # before the range
    beta = {"version": "1.2.0", "channel": "beta"}
    found.append(active(app_id, last - DAY, NEVER, 7, **beta))
    found.append(active(app_id, last, 1, 7, **beta))
    found.append(check(app_id, last, 7, **beta))
    found.append(sketch(app_id, last, range(100, 107), **beta))
    return found


async def figures(page: Page) -> dict[str, str]:
    """The active installs' figures, by their labels."""
    terms = await page.locator("dl.figures dt").all_inner_texts()
    values = await page.locator("dl.figures dd").all_inner_texts()
    return dict(zip(terms, values, strict=True))


async def table(of: Locator) -> list[list[str]]:
    """A table's rows (header and body) as their cells' text."""
    found = []
    for row in await of.locator("tr").all():
        found.append([cell.strip() for cell in await row.locator("th, td").all_inner_texts()])
    return found


async def no_overflow(page: Page) -> None:
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= await page.evaluate("window.innerWidth"), width


async def download_csv(page: Page, link: str) -> tuple[str, list[list[str]]]:
    """Click the link named ``link``: the file's suggested name and its rows."""
    async with page.expect_download() as started:
        await page.get_by_role("link", name=link).click()
    downloaded = await started.value
    path = await downloaded.path()
    return downloaded.suggested_filename, list(csv.reader(io.StringIO(path.read_text())))


async def test_the_tab_shows_active_installs_adoption_checks_and_downloads(
    page: Page, owner: Person
) -> None:
    alpha = await make_app("alpha", "Alpha")
    last = today()
    await store(population(alpha.id, last))
    await sign_in(page, owner, "/console/apps/alpha")
    tabs = page.get_by_role("navigation", name="Alpha")
    await tabs.get_by_role("link", name="Analytics").click()
    await expect(tabs.get_by_role("link", name="Analytics")).to_have_attribute(
        "aria-current", "page"
    )
    first = last - 27 * DAY
    await expect(page.get_by_label("From", exact=True)).to_have_value(first.isoformat())
    await expect(page.get_by_label("To", exact=True)).to_have_value(last.isoformat())

    assert await figures(page) == {
        "1 day": "107",
        "7 days": "127",
        "28 days": "132",
        f"{last.isoformat()}, estimated": "107",
    }
    await expect(page.get_by_text("sends no X-Last-Check-Day")).to_have_count(0)

    title = f"Share of each day's active installs by version, {first} to {last}"
    chart = page.get_by_role("img", name=title)
    await expect(chart).to_be_visible()
    await expect(chart).to_have_accessible_description(
        f"On {last}: 1.2.0 16%, 1.1.0 28%, 1.0.0 56%."
    )
    legend = page.get_by_role("list", name="Versions, top band first")
    assert await legend.get_by_role("listitem").all_inner_texts() == [
        "1.2.0",
        "1.1.0",
        "1.0.0",
        "other",
    ]
    areas = chart.locator("path.area")
    assert [await a.get_attribute("data-version") for a in await areas.all()] == [
        "other",
        "1.0.0",
        "1.1.0",
        "1.2.0",
    ]
    # Each band's colour is its own, and the legend's swatch has the same.
    tones = [await a.get_attribute("class") for a in await areas.all()]
    assert len(set(tones)) == 4
    swatches = [await s.get_attribute("class") for s in await legend.locator("rect").all()]
    assert swatches == [tone.removeprefix("area ") for tone in reversed(tones) if tone]

    await page.get_by_text("The adoption as a table").click()
    adoption = await table(page.locator("table.adoption"))
    assert adoption[0] == ["Day", "Installs", "1.2.0", "1.1.0", "1.0.0", "other"]
    assert adoption[-1] == [last.isoformat(), "107", "15.9%", "28.0%", "56.1%", "0.0%"]
    d20 = (last - 20 * DAY).isoformat()
    assert [r for r in adoption if r[0] == d20] == [[d20, "65", "0.0%", "0.0%", "92.3%", "7.7%"]]
    assert len(adoption) == 1 + 28

    await page.get_by_text("Update checks as a table").click()
    checks = await table(page.locator("table.checks"))
    assert checks[0] == ["Day", "Checks"]
    assert checks[-1] == [last.isoformat(), "67"]  # 60 on stable, 7 on beta
    assert checks[-3] == [(last - 2 * DAY).isoformat(), "82"]
    await expect(page.locator("svg#checks-chart rect.bar")).to_have_count(28)

    platforms = await table(page.locator("table.parts").nth(0))
    assert platforms == [
        ["Platform", "Downloads", "Share"],
        ["windows-x86_64", "19", "47.5%"],
        ["darwin-aarch64", "18", "45.0%"],
        ["linux-x86_64", "3", "7.5%"],
    ]
    countries = await table(page.locator("table.parts").nth(1))
    assert countries == [
        ["Country", "Downloads", "Share"],
        ["US", "21", "52.5%"],
        ["DE", "16", "40.0%"],
        ["XX (unknown)", "3", "7.5%"],
    ]
    assert await axe_violations(page) == []

    name, by_platform = await download_csv(page, "CSV of downloads by platform, a row a day")
    assert name == f"alpha-downloads-by-platform-{first}-to-{last}.csv"
    assert by_platform[0] == ["start", "platform", "value"]
    assert sorted(by_platform[1:]) == sorted(
        [(last - back * DAY).isoformat(), platform, str(count)]
        for back, platform, _, count in DOWNLOADS
    )
    name, adoption_csv = await download_csv(
        page, "CSV of active installs by version, a row a day and version"
    )
    assert name == f"alpha-active-installs-1d-by-version-{first}-to-{last}.csv"
    assert adoption_csv[-3:] == [
        [last.isoformat(), "1.0.0", "60"],
        [last.isoformat(), "1.1.0", "30"],
        [last.isoformat(), "1.2.0", "17"],
    ]


async def test_weeks_and_a_channel_chosen_with_the_keyboard_alone(
    page: Page, owner: Person
) -> None:
    alpha = await make_app("alpha", "Alpha")
    last = today()
    await store(population(alpha.id, last))
    await sign_in(page, owner, TAB)
    for date_field in ("From", "To"):  # the browser's own date fields, reached in turn
        await tab_to(page, page.get_by_label(date_field, exact=True))
    await tab_to(page, page.get_by_label("By", exact=True))
    await page.keyboard.press("ArrowDown")  # week
    await tab_to(page, page.get_by_label("Channel", exact=True))
    await page.keyboard.press("ArrowDown")  # stable
    await page.keyboard.press("ArrowDown")  # beta
    await tab_to(page, page.get_by_role("button", name="Show"))
    await page.keyboard.press("Enter")
    await page.wait_for_url("**bucket=week**")
    assert "channel=beta" in page.url
    assert await figures(page) == {
        "1 day": "7",
        "7 days": "7",
        "28 days": "7",
        f"{last.isoformat()}, estimated": "7",
    }
    mondays = {last - n * DAY - (last - n * DAY).weekday() * DAY for n in range(28)}
    await expect(page.locator("svg#checks-chart rect.bar")).to_have_count(len(mondays))

    summary = page.get_by_text("Update checks as a table")
    await tab_to(page, summary)
    await page.keyboard.press("Enter")
    checks = await table(page.locator("table.checks"))
    assert checks[0] == ["Week from", "Checks"]
    assert checks[-1] == [max(mondays).isoformat(), "7"]
    region = page.get_by_role("region", name="Update checks by week")
    await tab_to(page, region)  # a table wider than a phone scrolls under the keyboard
    link = page.get_by_role("link", name="CSV of update checks, a row a week")
    await tab_to(page, link)
    async with page.expect_download() as started:
        await page.keyboard.press("Enter")
    path = await (await started.value).path()
    assert list(csv.reader(io.StringIO(path.read_text())))[-1] == [max(mondays).isoformat(), "7"]

    await page.set_viewport_size(PHONE)
    await no_overflow(page)
    assert await axe_violations(page) == []


async def test_without_last_check_days_the_estimate_and_the_three_lines(
    page: Page, owner: Person
) -> None:
    alpha = await make_app("alpha", "Alpha")
    last = today()
    await store(
        [
            sketch(alpha.id, last - DAY, range(0, 40)),
            sketch(alpha.id, last, range(0, 50)),
            sketch(alpha.id, last, range(40, 75), version="1.1.0"),
        ]
    )
    await page.set_viewport_size(PHONE)
    await sign_in(page, owner, TAB)
    assert await figures(page) == {
        "1 day": "not counted",
        "7 days": "not counted",
        "28 days": "not counted",
        f"{last.isoformat()}, estimated": "75",
    }
    note = page.locator("p.note")
    await expect(note).to_contain_text("Alpha sends no X-Last-Check-Day")
    await expect(
        page.get_by_text("Each day's active installs by version, estimated")
    ).to_be_visible()
    await expect(page.locator("svg#adoption-chart path.area")).to_have_count(2)
    await note.get_by_role("link", name="Three lines in the app").click()
    assert page.url.endswith("#last-check-day")
    snippet = page.locator("#last-check-day pre")
    await expect(snippet).to_contain_text('check({ headers: { "X-Last-Check-Day": last } })')
    await expect(page.get_by_text("No downloads in these days.")).to_be_visible()
    await no_overflow(page)
    assert await axe_violations(page) == []


async def test_bad_input_is_a_message_and_never_an_error(page: Page, owner: Person) -> None:
    await make_app("alpha", "Alpha")
    await sign_in(page, owner)
    for query, field, message in [
        ("from=yesterday", "from", "from 'yesterday' is not a date: use YYYY-MM-DD"),
        ("to=2026-02-30", "to", "to '2026-02-30' is not a date"),
        ("from=2026-05-01&to=2026-04-01", "from", "a range starts on or before its end"),
        ("from=0001-01-01&to=9999-12-31", "from", "spans at most 400 days"),
        ("bucket=month", "bucket", "bucket 'month' is not one of day, week"),
        ("channel=%3Cb%3Enope", "channel", "channel '<b>nope' is not one of this app's channels"),
    ]:
        response = await page.goto(f"{TAB}?{query}")
        assert response is not None
        assert response.status == 400, query
        await expect(page.locator(f"#{field}-error")).to_contain_text(message)
        await expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("dl.figures")).to_have_count(0)
    assert await axe_violations(page) == []
    for query in ("to=0001-01-01&bucket=week", "from=9999-12-01&to=9999-12-31&bucket=week"):
        response = await page.goto(f"{TAB}?{query}")  # the ends of the calendar
        assert response is not None
        assert response.status == 200, query
        await expect(page.locator("dl.figures")).to_have_count(1)

    export = f"{TAB}/export?from=2026-01-01&to=2026-01-31"
    for query, message in [
        ("", "measure '' is not one of update-checks, downloads"),
        ("&measure=installs", "measure 'installs' is not one of"),
        ("&measure=downloads&by=os", "by 'os' is not one of version, platform"),
        ("&measure=active-installs-7d&by=country", "can be broken down by version, platform"),
    ]:
        response = await page.goto(export + query)
        assert response is not None
        assert response.status == 400, query
        await expect(page.get_by_role("main")).to_contain_text(message)
    response = await page.request.get(f"{export}&measure=update-checks&bucket=week")
    assert response.status == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="alpha-update-checks-2026-01-01-to-2026-01-31.csv"'
    )
    lines = (await response.text()).splitlines()
    assert lines[:2] == ["start,value", "2025-12-29,0"]
    assert len(lines) == 1 + 5


async def test_the_release_page_shows_its_funnel_exact_or_estimated(
    page: Page, owner: Person
) -> None:
    last = today()
    exact_id = await rows.publish("alpha", "1.1.0", ["darwin-aarch64"])
    estimated_id = await rows.publish("beta-app", "2.0.0", ["darwin-aarch64"])
    alpha = await App.get(slug="alpha")
    beta = await App.get(slug="beta-app")
    await store(
        [
            *population(alpha.id, last),
            check(beta.id, last, 40, version="1.0.0", answer="2.0.0"),
            check(beta.id, last, 9, version="2.0.0", answer=NO_UPDATE),
            download(beta.id, last, 25, version="2.0.0"),
            sketch(beta.id, last - DAY, range(0, 22), version="2.0.0"),
        ]
    )
    await sign_in(page, owner, f"/console/apps/alpha/releases/{exact_id}")
    funnel = page.get_by_role("region", name="From offer to install")
    steps = funnel.get_by_role("listitem")
    # Offered on every weekly check day of the 40; downloads in the range and the 1000
    # before it; the 30 installs that came to it on D-9 and checked yesterday.
    offered = 20 * len([back for back in range(40) if back % 7 == 2])
    await expect(steps.nth(0)).to_contain_text(f"{offered} update checks offered it")
    await expect(steps.nth(1)).to_contain_text(f"{40 + 1000:,} downloads of it")
    await expect(steps.nth(2)).to_contain_text("30 installs ran it yesterday exact")
    assert await axe_violations(page) == []
    await page.set_viewport_size(PHONE)
    await no_overflow(page)
    assert await axe_violations(page) == []

    await page.goto(f"/console/apps/beta-app/releases/{estimated_id}")
    await expect(steps.nth(0)).to_contain_text("40 update checks offered it")
    await expect(steps.nth(1)).to_contain_text("25 downloads of it")
    await expect(steps.nth(2)).to_contain_text("22 installs ran it yesterday estimated")
    await expect(steps.nth(2)).to_contain_text("sends no X-Last-Check-Day")
    await steps.nth(2).get_by_role("link", name="three lines in the app").click()
    await expect(page.locator("#last-check-day")).to_be_visible()

    draft = await releases.create(
        Actor.console(), alpha.id, releases.ReleaseChanges(version="1.3.0")
    )
    await page.goto(f"/console/apps/alpha/releases/{draft.id}")
    await expect(page.get_by_role("heading", name="1.3.0")).to_be_visible()
    await expect(funnel).to_have_count(0)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.VIEWER])
async def test_another_apps_people_get_the_refusal_of_every_app_page(
    page: Page, owner: Person, role: Role
) -> None:
    alpha = await make_app("alpha", "Alpha")
    beta = await make_app("beta", "Beta")
    await store(population(beta.id, today()))
    limited = await add_person("limited@example.com", role, frozenset({alpha.id}))
    await sign_in(page, limited, TAB)
    await expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
    for path in (
        "/console/apps/beta/settings",
        "/console/apps/beta/analytics",
        "/console/apps/beta/analytics?from=2026-01-01",
        "/console/apps/beta/analytics/export?measure=downloads",
    ):
        response = await page.goto(path)
        assert response is not None
        assert response.status == 404, path
        await expect(page.get_by_role("main")).to_contain_text("no app 'beta' that you may see")
        await expect(page.get_by_role("main")).not_to_contain_text("1.1.0")
