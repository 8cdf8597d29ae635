"""The real app in chromium: review (accept, reject, edit, shortcuts, restart), two annotators, rollouts, eval.

Screenshots: ``test-artifacts/browser/{review,rollouts,eval,two_annotators}.png``.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from lvr1kit.review.store import ReviewStore, default_store_url

TIMEOUT_MS = 60_000


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".lvr1-item", timeout=TIMEOUT_MS)


def _textbox(page: Any, elem_id: str) -> Any:
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def _current_item(page: Any) -> str:
    return str(page.locator(".lvr1-item").first.get_attribute("data-item"))


def _wait_message(page: Any, text: str) -> None:
    page.locator("#review-message").get_by_text(text).first.wait_for(timeout=TIMEOUT_MS)


def _wait_item_change(page: Any, old: str) -> str:
    page.wait_for_function(
        "old => { const el = document.querySelector('.lvr1-item'); return el && el.dataset.item !== old; }",
        arg=old,
        timeout=TIMEOUT_MS,
    )
    return _current_item(page)


def _store(roots: tuple[Path, Path]) -> ReviewStore:
    return ReviewStore(default_store_url(roots[0]))


def test_annotator_reviews_and_finds_verdicts_after_restart(
    roots: tuple[Path, Path], start_server: Any, pw: Any, helpers: Any
) -> None:
    app = start_server()
    with helpers.browser_page(pw) as page:
        _open(page, app.url)
        _textbox(page, "annotator").fill("alice")
        first = _current_item(page)
        # a cited time in the reasoning seeks the video
        link = page.locator(".lvr1-reasoning a.lvr1-ts").first
        target = float(link.get_attribute("data-t"))
        page.wait_for_function("() => document.querySelector('video.lvr1-video').readyState >= 1", timeout=TIMEOUT_MS)
        link.click()
        page.wait_for_function(
            "t => Math.abs(document.querySelector('video.lvr1-video').currentTime - t) < 0.5", arg=target
        )
        page.click("#btn-accept")
        _wait_message(page, f"Recorded accept on {first}")
        second = _wait_item_change(page, first)
        _textbox(page, "reject-reason").fill("answer not supported by the video")
        page.click("#btn-reject")
        _wait_message(page, f"Recorded reject on {second}")
        third = _wait_item_change(page, second)
        _textbox(page, "edit-question").fill("Which event happened last in the video?")
        page.click("#btn-edit")
        _wait_message(page, f"Recorded edit on {third}")
        fourth = _wait_item_change(page, third)
        page.locator("body").click(position={"x": 5, "y": 5})  # focus outside text boxes, then shortcuts
        page.keyboard.press("a")
        _wait_message(page, f"Recorded accept on {fourth}")
        fifth = _wait_item_change(page, fourth)
        page.keyboard.press("s")
        _wait_message(page, f"Recorded skip on {fifth}")
        page.locator("#progress").get_by_text("Reviewed 4 /").wait_for(timeout=TIMEOUT_MS)
        helpers.screenshot(page, "review")
    app.stop()

    restarted = start_server()
    with helpers.browser_page(pw) as page:
        _open(page, restarted.url)
        page.locator("#progress").get_by_text("Reviewed 4 /").wait_for(timeout=TIMEOUT_MS)
        page.wait_for_function(
            "() => document.querySelector('#history').innerText.includes('alice')", timeout=TIMEOUT_MS
        )
        assert _current_item(page) == first
        assert "accept" in page.locator("#history").inner_text()
    states = _store(roots).states("tiny", "v0")
    assert states[first].status == "accept"
    assert (states[second].status, states[second].reason) == ("reject", "answer not supported by the video")
    assert states[third].edits == {"question": "Which event happened last in the video?"}
    assert states[fourth].status == "accept" and states[fifth].status == "skipped"


def test_two_annotators_at_once_lose_nothing(roots: tuple[Path, Path], server: Any, helpers: Any) -> None:
    from playwright.sync_api import sync_playwright

    store = _store(roots)
    before = len(store.history("tiny", "v0"))
    done: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def annotate(name: str, count: int) -> None:
        try:
            with sync_playwright() as playwright, helpers.browser_page(playwright) as page:
                _open(page, server.url)
                _textbox(page, "annotator").fill(name)
                seen = []
                for _ in range(count):
                    current = _current_item(page)
                    page.click("#btn-accept")
                    _wait_message(page, f"Recorded accept on {current} by {name}")
                    _wait_item_change(page, current)
                    seen.append(current)
                if name == "bob":
                    helpers.screenshot(page, "two_annotators")
                done[name] = seen
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=annotate, args=(name, 3)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    history = store.history("tiny", "v0")[before:]
    assert sorted((v.annotator, v.item_id) for v in history) == sorted(
        (name, item) for name, items in done.items() for item in items
    )
    assert len(history) == 6


def test_rollouts_tab_shows_a_group_with_rewards(server: Any, pw: Any, helpers: Any) -> None:
    with helpers.browser_page(pw) as page:
        _open(page, server.url)
        page.get_by_role("tab", name="Rollouts").click()
        page.locator("#completions .lvr1-card").first.wait_for(timeout=TIMEOUT_MS)
        assert page.locator("#completions .lvr1-card").count() == 4
        head = page.locator("#completions .lvr1-card-head").first.inner_text()
        assert "reward" in head and "advantage" in head
        page.locator("#curves .js-plotly-plot").first.wait_for(timeout=TIMEOUT_MS)
        page.locator("#frames img").first.wait_for(timeout=TIMEOUT_MS)
        helpers.screenshot(page, "rollouts")


def test_eval_tab_shows_the_figures(server: Any, pw: Any, helpers: Any) -> None:
    with helpers.browser_page(pw) as page:
        _open(page, server.url)
        page.get_by_role("tab", name="Eval").click()
        page.locator("#eval-categories .js-plotly-plot").first.wait_for(timeout=TIMEOUT_MS)
        page.locator("#eval-scaling .js-plotly-plot").first.wait_for(timeout=TIMEOUT_MS)
        page.locator("#eval-drill .lvr1-card").first.wait_for(timeout=TIMEOUT_MS)
        assert "Gold answer" in page.locator("#eval-drill").inner_text()
        helpers.screenshot(page, "eval")


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_paths_outside_the_roots_are_refused(roots: tuple[Path, Path], server: Any) -> None:
    data_root = roots[0].resolve()
    video = next((data_root / "tiny" / "world").glob("*.mp4"))
    assert _status(f"{server.url}/gradio_api/file={video}") == 200
    assert _status(f"{server.url}/gradio_api/file=/etc/passwd") in (403, 404)
    assert _status(f"{server.url}/gradio_api/file={data_root}/../../../../etc/passwd") in (403, 404)
    assert _status(f"{server.url}/gradio_api/file={data_root}/.review/review.sqlite") in (403, 404)
