"""The operator page (``/ops``) in a real browser: Debian's chromium driven by
Playwright (never ``playwright install``), every request outside localhost blocked,
against a live server with a real worker and beat: an operator signs in, sees a
delivery that died while its receiver was down, replays it and sees it delivered.
Screenshots of each page go to ``$TASKS_TEST_ARTIFACTS`` (default: the test's
``tmp_path/artifacts``). With CI=true a missing chromium fails the test."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tasks_service.core.settings import Settings
from tests.helpers import AccountInfo, Api, ProcessGroup, Receiver, start_beats, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Flask]:
    """The app with the operator page, for the live server (``base_url``);
    ``web.ops.register`` is a no-op once ``create_app`` registers it itself."""
    from web import ops
    from web.app import create_app

    flask_app = create_app(settings)
    ops.register(flask_app)
    flask_app.testing = True
    yield flask_app
    flask_app.extensions["outcomes"].stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def _artifacts(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    root = Path(os.environ.get("TASKS_TEST_ARTIFACTS") or tmp_path / "artifacts")
    folder = root / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def _beat_starting(settings: Settings, log_dir: Path) -> Iterator[Future[ProcessGroup]]:
    """A real beat, started in the background (a process takes seconds to come up:
    the browser starts meanwhile), stopped at the end."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = pool.submit(start_beats, settings, log_dir)
        try:
            yield started
        finally:
            started.result().stop_all()


def _local_only(outside: list[str]) -> Callable[[Route], None]:
    """A route handler passing requests to this machine, aborting (and noting) others."""

    def route(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    return route


def test_in_chromium_an_operator_replays_a_dead_delivery(
    base_url: str,
    api: Api,
    account: AccountInfo,
    receiver: Receiver,
    settings: Settings,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """Signed in, the operator sees the delivery that died while its receiver was down,
    replays it, and sees it delivered to the receiver (now up). Screenshots of each
    page under the artifacts folder."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    shots = _artifacts(tmp_path, request)
    outside: list[str] = []
    with _beat_starting(settings, tmp_path) as beat, sync_playwright() as playwright:
        # the receiver is down: its gateway answers 410, a final answer (dead at once)
        receiver.script = [410]
        hook = api.post("/v1/webhooks", json={"uri": receiver.uri, "events": ["task.created"]})
        assert hook.status_code == 201, hook.get_json()
        hook_id = hook.get_json()["id"]
        api.create_task(subject="Rotate the keys")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.route("**/*", _local_only(outside))
            page = context.new_page()
            page.goto(f"{base_url}/ops")
            expect(page).to_have_url(f"{base_url}/ops/sign-in")
            page.screenshot(path=shots / "1-sign-in.png", full_page=True)
            page.fill("#token", account.token)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{base_url}/ops")
            beat.result()
            deliveries = f"/v1/webhooks/{hook_id}/deliveries"
            wait_for(
                lambda: [d["state"] for d in api.get(deliveries).get_json()] == ["dead"],
                timeout=20,
                interval=0.1,
                what=f"the delivery to die: {api.get(deliveries).get_json()}",
            )
            [dead] = api.get(deliveries).get_json()
            page.reload()
            row = page.locator(f'#dead-deliveries tr[data-delivery="{dead["id"]}"]')
            expect(row).to_contain_text("HTTP 410")
            page.screenshot(path=shots / "2-dead-delivery.png", full_page=True)
            # the receiver is up again (its script is spent: 200 from now on)
            page.click(f"#replay-webhook-{hook_id}")
            expect(page.locator("#notice")).to_contain_text("1 dead delivery is pending again")
            page.screenshot(path=shots / "3-replayed.png", full_page=True)
            wait_for(lambda: len(receiver.requests) == 2, timeout=20, what="the replay")

            def none_dead() -> bool:
                page.goto(f"{base_url}/ops")
                return page.locator("#dead-deliveries .empty").count() == 1

            wait_for(none_dead, timeout=10, interval=0.2, what="no dead delivery shown")
            page.screenshot(path=shots / "4-delivered.png", full_page=True)
        finally:
            browser.close()
    assert outside == []
    first, again = receiver.requests
    assert first[0]["webhook-id"] == again[0]["webhook-id"]
    [delivered] = api.get(deliveries).get_json()
    assert (delivered["state"], delivered["last_status"]) == ("delivered", 200)
    assert sorted(p.name for p in shots.glob("*.png")) == [
        "1-sign-in.png",
        "2-dead-delivery.png",
        "3-replayed.png",
        "4-delivered.png",
    ]
