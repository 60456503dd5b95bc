"""Prints what the web panel costs: the RSS the server adds to a running daemon (with a full
48-hour history, its 1000 decision markers and ten live clients), the size of history.json, and
the page weight a browser transfers for each page (Debian's chromium through Playwright).

    .venv/bin/python benchmarks/web_panel.py        (after ./scripts/test, which installs both)
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from edge_mining.clock import ScaledClock
from edge_mining.config import parse_config
from edge_mining.demo import DEMO_SITE, demo_start
from edge_mining.devices.factory import build_devices, build_plant
from edge_mining.service import Daemon

HOST, PORT = "127.0.0.1", 18_199
PAGES = ("now", "miners", "history", "plan", "earnings", "settings")


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def full_history(path: Path, miners: list[str], now: float) -> None:
    """48 hours of 1-minute rows and 1000 markers, as the panel writes them."""
    times = [now - (2880 - i) * 60.0 for i in range(2880)]
    columns = {"t": times, "pv": [2500.5] * 2880, "load": [800.5] * 2880,
               "battery": [300.5] * 2880, "soc": [80.5] * 2880, "grid": [-100.5] * 2880,
               **{m: [1200.5] * 2880 for m in miners}}  # fmt: skip
    markers = [
        {"t": now - i * 170.0, "reason": "auto: surplus 1848 W, available 1748 W, SoC 91%",
         "commands": ["s19jpro: set_power 1742 W (running on surplus)"]}
        for i in range(1000)
    ]  # fmt: skip
    totals = {"mined_kwh": 10.0, "earnings": 0.5, "heat_kwh": 0.0, "pv_kwh": 25.0, "th_days": 3}
    days = {f"2026-06-{d:02d}": totals for d in range(1, 22)}
    data = {"version": 1, "miners": miners, "columns": columns, "markers": markers, "days": days}
    path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True))


async def measure_rss(state_dir: Path) -> None:
    web = {"enabled": True, "host": HOST, "port": PORT}
    site = parse_config({**DEMO_SITE, "state_dir": str(state_dir), "web": web}, environ={})
    clock = ScaledClock(start=demo_start(7.0), speed=60.0)
    plant = build_plant(site, clock.now())
    devices = build_devices(site, clock=clock, plant=plant)
    daemon = Daemon(site, energy=devices.energy, miners=devices.miners, clock=clock)
    stop = asyncio.Event()
    run = asyncio.create_task(daemon.run(stop))
    await asyncio.sleep(3.0)
    before = rss_kib()

    from edge_mining.web.server import WebPanel

    full_history(state_dir / "history.json", [m.name for m in site.miners], clock.now())
    panel = WebPanel(site, daemon)
    panel_stop = asyncio.Event()
    serving = asyncio.create_task(panel.run(panel_stop))
    while panel.port is None:
        await asyncio.sleep(0.05)

    # Ten live clients in processes of their own (curl), so only the server is measured.
    base = f"http://{HOST}:{PORT}"
    for path in ("/", "/api/site", "/api/state", "/api/history", "/static/app.js"):
        for _ in range(10):
            fetch = await asyncio.create_subprocess_exec(
                "curl", "-s", "--compressed", "-o", "/dev/null", base + path
            )
            await fetch.wait()
    clients = [
        await asyncio.create_subprocess_exec("curl", "-sN", "-o", "/dev/null", f"{base}/api/events")
        for _ in range(10)
    ]
    await asyncio.sleep(10.0)
    after = rss_kib()
    for curl in clients:
        curl.terminate()
        await curl.wait()
    panel_stop.set()
    await serving
    stop.set()
    await run
    await devices.close()
    size = (state_dir / "history.json").stat().st_size
    print(
        f"web panel RSS: daemon alone {before / 1024:.1f} MiB, with the panel "
        f"(48 h history, 1000 markers, 10 live clients) {after / 1024:.1f} MiB: "
        f"+{(after - before) / 1024:.1f} MiB"
    )
    print(f"history.json with 48 h at 1-minute resolution: {size / 1024:.0f} KiB")


def page_weight() -> None:
    import subprocess

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("page weight: playwright is not installed (./scripts/test installs it)")
        return
    with tempfile.TemporaryDirectory() as scratch:
        demo = subprocess.Popen(
            [sys.executable, "-m", "edge_mining.cli", "demo", "--web", f"{HOST}:{PORT + 1}",
             "--duration", "60"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=scratch,
        )  # fmt: skip
        try:
            time.sleep(4.0)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=["--headless", "--no-sandbox", "--disable-gpu"],
                )
                for page_name in PAGES:
                    context = browser.new_context()
                    page = context.new_page()
                    responses: list = []

                    def finished(request, responses=responses) -> None:
                        responses.append(request)

                    page.on("requestfinished", finished)
                    page.goto(f"http://{HOST}:{PORT + 1}/#{page_name}")
                    page.wait_for_timeout(1500)
                    total = 0
                    for request in responses:
                        sizes = request.sizes()
                        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
                    print(
                        f"page weight, first load of #{page_name}: {total / 1024:.1f} KB "
                        f"transferred in {len(responses)} responses (the live event stream "
                        "excluded)"
                    )
                    context.close()
                browser.close()
        finally:
            demo.terminate()
            demo.wait(30)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(measure_rss(Path(directory)))
    page_weight()
