"""The rehearsal report as a person sees it: rendered by a real headless browser (Debian's
chromium), its screenshot read pixel by pixel."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from cutover_cli.main import main

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
ROLLBACK_RED, DNS_BLUE = (0xC0, 0x18, 0x2B), (0x1F, 0x5F, 0xA8)


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed: the report's browser test was skipped "
                                           "(apt-get install chromium; .ci/run installs it)")
def test_the_report_shows_where_and_why_it_rolled_back_and_does_not_spend_its_width_on_the_ttl_wait(tmp_path, capsys):
    from PIL import Image

    report = tmp_path / "errors-at-10.html"
    assert main(["rehearse", "--scenario", "errors-at-10", "--report", str(report)]) == 3
    capsys.readouterr()
    shot = tmp_path / "report.png"
    subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,960",
                    f"--screenshot={shot}", report.as_uri()], check=True, capture_output=True, timeout=120)
    image = Image.open(shot).convert("RGB")
    width, height = image.size
    pixels = image.load()
    # the rollback: one red vertical line through the panels (at least 300 px of it in one column)
    columns = [x for x in range(width) if sum(_near(pixels[x, y], ROLLBACK_RED) for y in range(0, height, 2)) >= 150]
    assert columns and max(columns) - min(columns) <= 4, f"one rollback line, found red columns {columns[:10]}"
    # where the DNS weight is drawn: the plot's extent, from the first to the last blue pixel
    blue = [x for x in range(width) for y in range(150, 400, 2) if _near(pixels[x, y], DNS_BLUE, 30)]
    left, right = min(blue), max(blue)
    # the breach came an hour into a 72-minute rehearsal, after the 1-hour TTL wait: on a plain
    # time axis its rollback would sit at 86% of the width; the quiet wait is compressed, so the
    # stage and the rollback get the width
    at = (columns[0] - left) / (right - left)
    assert 0.3 < at < 0.6, f"the rollback drawn at {at:.0%} of the time axis"
    html = report.read_text()
    assert "rolled back: AlarmBreached: alarm shop-probe-errors went to ALARM" in html
    assert "shop-probe-errors threshold 5" in html and "quiet</text>" in html and "last event, at +" in html
