"""Issue 6 in headless Chromium on a 390×844 phone: the Start button only starts, the End button only
ends, only the action of the moment is shown, in reach without scrolling, and Enter in a field does
neither. Each "sends nothing" is proven against a later real action: the page posts its queue in
order, so once that action's request has left, a stray one would have left before it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.browser import sign_in_page
from tocsin.interventions.models import Declaration

PAGE = "/interventions/do/technician"
WIDTH, HEIGHT = 390, 844
START = "/api/interventions/do/start"
END = "/api/interventions/do/end"


@pytest.fixture
def phone(browser, live_server, do_setup) -> Iterator[object]:
    """A 390×844 phone; service workers blocked so every request the page makes is seen here."""
    context = browser.new_context(
        base_url=live_server.base_url,
        locale="en-GB",
        timezone_id="Europe/Paris",
        viewport={"width": WIDTH, "height": HEIGHT},
        service_workers="block",
    )
    yield context
    context.close()


class Technician:
    """The technician's page, with the declarations it posts recorded in order."""

    def __init__(self, phone, database, lang: str = "en") -> None:
        self.tab = phone.new_page()
        self.posts: list[str] = []
        self.tab.on("request", self._record)
        sign_in_page(self.tab, database, "tina", ["technician"])
        self.tab.goto(f"{PAGE}?lang={lang}")
        expect(self.tab.locator("#natures-0-nature")).to_be_attached()
        self.start = self.tab.locator("#start")
        self.end = self.tab.locator("#end")

    def _record(self, request) -> None:
        path = urlsplit(request.url).path
        if request.method == "POST" and path in (START, END):
            self.posts.append(path)

    def choose_pm(self) -> None:
        self.tab.locator("#pm").fill("FI-12345-0001")

    def start_for_real(self) -> None:
        with self.tab.expect_request(lambda request: request.url.endswith(START)):
            self.start.click()
        expect(self.tab.locator("#queue li[data-action=start][data-state=sent]")).to_have_count(1)

    def end_for_real(self) -> None:
        with self.tab.expect_request(lambda request: request.url.endswith(END)):
            self.end.click()
        expect(self.tab.locator("#queue li[data-action=end][data-state=sent]")).to_have_count(1)

    def queued_nothing(self) -> None:
        """Nothing was queued on the phone: a stray action would be there at once (queued in the click)."""
        expect(self.tab.locator("#queue li")).to_have_count(0)
        assert self.tab.evaluate("localStorage.getItem('tocsin.do.queue')") is None

    def running(self) -> bool:
        return self.tab.evaluate("localStorage.getItem('tocsin.do.current') !== null")

    def assert_on_screen_at_every_scroll(self, button) -> None:
        """The button lies wholly inside the 390×844 screen at the top and at the bottom of the page."""
        expect(button).to_be_visible()
        for scroll in ("0", "document.documentElement.scrollHeight"):
            self.tab.evaluate(f"window.scrollTo(0, {scroll})")
            box = button.bounding_box()
            assert box is not None, "the action button is not displayed"
            assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box
            assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, box


def declaration_count(database) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(Declaration))


@pytest.mark.browser
def test_while_idle_the_end_button_is_hidden_and_clicking_it_starts_nothing(phone, database):
    page = Technician(phone, database)
    page.choose_pm()
    expect(page.start).to_be_visible()
    expect(page.end).to_be_hidden()
    page.end.dispatch_event("click")
    page.tab.evaluate("document.getElementById('end').click()")
    page.queued_nothing()
    assert not page.running()
    assert declaration_count(database) == 0
    page.start_for_real()
    assert page.posts == [START]
    assert declaration_count(database) == 1


@pytest.mark.browser
def test_while_an_intervention_runs_the_start_button_is_hidden_and_clicking_it_ends_nothing(phone, database):
    page = Technician(phone, database)
    page.choose_pm()
    page.start_for_real()
    expect(page.start).to_be_hidden()
    expect(page.end).to_be_visible()
    page.start.dispatch_event("click")
    page.tab.evaluate("document.getElementById('start').click()")
    expect(page.tab.locator("#queue li")).to_have_count(1)
    expect(page.tab.locator("#running")).to_be_visible()
    assert page.running()
    page.end_for_real()
    assert page.posts == [START, END]
    assert declaration_count(database) == 1


@pytest.mark.browser
def test_a_double_click_on_start_starts_the_intervention_and_does_not_end_it(phone, database):
    page = Technician(phone, database)
    page.choose_pm()
    page.start.scroll_into_view_if_needed()
    box = page.start.bounding_box()
    with page.tab.expect_request(lambda request: request.url.endswith(START)):
        page.tab.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.tab.locator("#queue li[data-action=start][data-state=sent]")).to_have_count(1)
    expect(page.tab.locator("#queue li")).to_have_count(1)
    expect(page.end).to_be_visible()
    assert page.running()
    page.end_for_real()
    assert page.posts == [START, END]


@pytest.mark.browser
def test_enter_in_the_pm_field_while_idle_starts_nothing(phone, database):
    page = Technician(phone, database)
    page.choose_pm()
    page.tab.locator("#pm").press("Enter")
    page.queued_nothing()
    assert not page.running()
    assert page.tab.url.endswith(f"{PAGE}?lang=en")
    page.start_for_real()
    assert page.posts == [START]


@pytest.mark.browser
def test_enter_in_a_field_while_an_intervention_runs_ends_nothing(phone, database):
    page = Technician(phone, database)
    page.choose_pm()
    page.start_for_real()
    page.tab.locator("#natures-0-PBO").fill("PT0012345")
    page.tab.locator("#natures-0-PBO").press("Enter")
    page.tab.locator("#pm").press("Enter")
    expect(page.tab.locator("#queue li")).to_have_count(1)
    expect(page.end).to_be_visible()
    assert page.running()
    page.end_for_real()
    assert page.posts == [START, END]


@pytest.mark.browser
def test_start_pressed_twice_from_the_keyboard_starts_once_and_ends_nothing(phone, database):
    page = Technician(phone, database)
    page.choose_pm()
    page.tab.locator("#add-line").focus()
    page.tab.keyboard.press("Tab")
    expect(page.start).to_be_focused()
    assert page.start.evaluate("button => getComputedStyle(button).outlineStyle") == "solid"
    with page.tab.expect_request(lambda request: request.url.endswith(START)):
        page.tab.keyboard.press("Enter")
    page.tab.keyboard.press("Enter")
    expect(page.tab.locator("#queue li[data-action=start][data-state=sent]")).to_have_count(1)
    expect(page.tab.locator("#queue li")).to_have_count(1)
    expect(page.tab.locator("#running")).to_be_focused()
    assert page.running()
    page.end_for_real()
    assert page.posts == [START, END]


@pytest.mark.browser
def test_the_action_button_is_on_the_phone_screen_without_scrolling_idle_and_running(phone, database):
    page = Technician(phone, database)
    page.tab.locator("#add-line").click()
    page.tab.locator("#add-line").click()
    page.assert_on_screen_at_every_scroll(page.start)
    page.choose_pm()
    page.start_for_real()
    page.assert_on_screen_at_every_scroll(page.end)


@pytest.mark.browser
def test_the_action_bar_hides_none_of_the_page_when_scrolled_to_the_bottom(phone, database):
    page = Technician(phone, database)
    page.choose_pm()
    page.start_for_real()
    # The entry settles once the server answered (the list is drawn again then): measure after that.
    expect(page.tab.locator("#queue li").last).to_have_attribute("data-state", "sent")
    # The list may be drawn again between two reads (another answer, the service worker): measure the
    # last entry and the bar in one go, in the page, once both are laid out.
    page.tab.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    measured = page.tab.wait_for_function(
        """() => {
            const entries = document.querySelectorAll("#queue li"), bar = document.querySelector(".actions");
            if (!entries.length || !bar) return null;
            const last = entries[entries.length - 1].getBoundingClientRect();
            const top = bar.getBoundingClientRect();
            return last.height > 0 && top.height > 0 ? [last.bottom, top.top] : null;
        }"""
    ).json_value()
    last_bottom, bar_top = measured
    assert last_bottom <= bar_top


@pytest.mark.browser
def test_a_single_nature_line_shows_no_remove_button(phone, database):
    page = Technician(phone, database)
    remove = page.tab.get_by_role("button", name="Remove this line")
    expect(page.tab.locator(".remove-line")).to_have_count(1)
    expect(page.tab.locator(".remove-line")).to_be_hidden()
    expect(remove).to_have_count(0)
    page.tab.locator("#add-line").click()
    expect(remove).to_have_count(2)
    expect(remove.first).to_be_visible()
    remove.first.click()
    expect(page.tab.locator(".line")).to_have_count(1)
    expect(page.tab.locator(".remove-line")).to_be_hidden()


@pytest.mark.parametrize(
    ("lang", "start", "end"),
    [
        ("en", "Start the intervention", "End the intervention"),
        ("fr", "Commencer l’intervention", "Terminer l’intervention"),
    ],
)
@pytest.mark.browser
def test_each_button_is_named_by_what_it_does(phone, database, lang, start, end):
    page = Technician(phone, database, lang=lang)
    expect(page.tab.get_by_role("button", name=start, exact=True)).to_be_visible()
    expect(page.tab.get_by_role("button", name=end, exact=True)).to_have_count(0)
    page.choose_pm()
    page.start_for_real()
    expect(page.tab.get_by_role("button", name=end, exact=True)).to_be_visible()
    expect(page.tab.get_by_role("button", name=start, exact=True)).to_have_count(0)
