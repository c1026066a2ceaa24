"""The browser set-up: scripts/browser.sh does nothing (one line) when Chromium is there, and the tests
skip with a reason naming what is missing only where it cannot be installed (no apt-get, not root)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.browser import conftest as browser_conftest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "browser.sh"


@pytest.mark.skipif(not Path(browser_conftest.CHROMIUM).exists(), reason="Chromium is not installed here")
def test_the_script_is_idempotent_and_prints_one_line() -> None:
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.startswith("browser: Chromium") and done.stdout.count("\n") == 1


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    ran: list[list[str]] = []
    monkeypatch.setattr(browser_conftest, "CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setattr(browser_conftest.subprocess, "run", lambda args, **_: ran.append(args))
    return ran


def test_without_apt_get_the_reason_names_chromium_and_apt_get(monkeypatch, no_chromium) -> None:
    monkeypatch.setattr(browser_conftest.shutil, "which", lambda name: None)
    reason = browser_conftest._why_no_chromium()
    assert no_chromium and no_chromium[0][-1].endswith("scripts/browser.sh")   # it tried the installer first
    assert reason and "chromium is missing" in reason and "no apt-get" in reason


def test_without_root_the_reason_says_root(monkeypatch, no_chromium) -> None:
    monkeypatch.setattr(browser_conftest.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(browser_conftest.os, "geteuid", lambda: 1000)
    reason = browser_conftest._why_no_chromium()
    assert reason and "needs root" in reason


def test_where_it_could_install_a_missing_browser_fails_instead_of_skipping(monkeypatch, no_chromium) -> None:
    monkeypatch.setattr(browser_conftest.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(browser_conftest.os, "geteuid", lambda: 0)
    with pytest.raises(pytest.fail.Exception, match="scripts/browser.sh failed"):
        browser_conftest._why_no_chromium()
