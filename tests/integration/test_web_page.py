"""The web page in a real browser: headless Debian Chromium, a fake microphone fed from a wav.

Record -> the playlist appears -> pick a track -> record again -> tracks of the picked theme.
Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.mark.asyncio
async def test_record_pick_and_record_again_in_chromium(
    pipeline_settings, synthetic_speech_dir, tmp_path
):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make install adds it)")
    from playwright.async_api import async_playwright

    from crawler.crawl import Crawler
    from crawler.profile import load_profile
    from crawler.testsite import MusicSite
    from models.datasets.synthetic_music import write_synthetic_music
    from streams.worker_process import WorkerProcess
    from tests.crawler.test_crawl_integration import PROFILES

    settings = pipeline_settings
    worker = WorkerProcess(settings, tmp_path).start()
    music = tmp_path / "site"
    write_synthetic_music(music, tracks_per_substyle=1, seconds=9.0, seed=41)
    site = MusicSite(music)
    port = await site.start()
    voice = tmp_path / "voice.wav"
    shutil.copy(sorted(synthetic_speech_dir.glob("*-sad-*.wav"))[0], voice)
    voice_again = tmp_path / "voice-again.wav"  # a new name: the file input sees a new choice
    shutil.copy(voice, voice_again)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        await Crawler(
            load_profile(PROFILES / "alpha.toml").on_host(f"127.0.0.1:{port}"),
            settings.crawl_target,
        ).run()
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={voice}",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            )
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{worker.settings.web_port}/")
            await page.fill("#user", "browser-user")
            # Uploads first: the same bytes read as the same mood both times, so the pick must
            # come back as PREFERRED_THEME. (The fake microphone loops the file from wherever it
            # is, so two recordings hear different parts of it and may read as other moods.)
            await page.set_input_files("#file", str(voice))
            await page.wait_for_selector("#playlist tr", timeout=60_000)
            await page.screenshot(path=str(SHOTS / "1-first-playlist.png"), full_page=True)
            reason = await page.text_content("#reason")
            assert "FIRST_OCCURRENCE" in reason or "AWAITING_PICK" in reason, reason
            said = await page.text_content("#emotion")
            assert re.fullmatch(
                r"You sound \w+ \(\d+ % sure\)\.|Your mood is uncertain: perhaps \w+ \(\d+ %\)\.",
                said,
            ), said
            assert "Calibrated: of the answers given with" in await page.text_content("#probs")
            first_rows = await page.query_selector_all("#playlist tr")
            picked_theme = await (await first_rows[0].query_selector("td")).inner_text()
            await (await first_rows[0].query_selector("button")).click()
            await page.wait_for_function(
                "document.querySelector('#status').textContent.includes('Noted')"
            )
            await page.wait_for_timeout(1500)
            await page.set_input_files("#file", str(voice_again))
            await page.wait_for_function(
                "document.querySelector('#reason').textContent.includes('PREFERRED_THEME')",
                timeout=60_000,
            )
            await page.screenshot(path=str(SHOTS / "2-preferred-theme.png"), full_page=True)
            themes = [
                await (await r.query_selector("td")).inner_text()
                for r in await page.query_selector_all("#playlist tr")
            ]
            assert themes and set(themes) == {picked_theme}
            # Then the microphone: 4 s recorded in the page, sent as WAV, answered.
            await page.evaluate("document.querySelector('#reason').textContent = ''")
            await page.click("#record")
            await page.wait_for_function(
                "document.querySelector('#reason').textContent.includes('(step: ')",
                timeout=60_000,
            )
            await page.screenshot(path=str(SHOTS / "3-recorded.png"), full_page=True)
            await browser.close()
    finally:
        await site.stop()
        worker.stop()
