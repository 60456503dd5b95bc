"""``edge-mining probe miner``: the documented JSON shape and exit codes."""

from __future__ import annotations

import argparse
import json

from braiins_support import fresh_host

from edge_mining.devices.braiins import probe as braiins_probe
from edge_mining.devices.braiins.emulator import EmulatedMiner

KEYS = {
    "host",
    "reachable",
    "backend",
    "model",
    "firmware",
    "serial",
    "status",
    "hashrate_ths",
    "power_w",
    "power_target_w",
    "constraints",
    "temperature_c",
    "fan_rpm",
    "errors",
}


def _args(host, password=None, as_json=True):
    return argparse.Namespace(host=host, username="root", password=password, json=as_json)


async def test_probe_reports_what_the_driver_sees():
    host = fresh_host()
    async with EmulatedMiner(host, "S21", password="env-pw") as emulated:
        result = await braiins_probe.probe(host, "root", "env-pw")
        del result["_auth_failed"]
        assert set(result) == KEYS
        assert result["status"] == "mining" and result["backend"] == "boser"
        assert result["model"] == "S21 (BOS+)"
        assert result["firmware"] == "BraiinsOS+ 23.10"
        assert result["serial"] == emulated.machine.serial
        assert result["constraints"] == {"min_w": 1500.0, "max_w": 4000.0, "default_w": 3500.0}
        assert result["power_target_w"] == 3500.0
        json.dumps(result)


def test_probe_main_exit_codes(capsys, monkeypatch):
    import asyncio

    host = fresh_host()
    monkeypatch.setenv(braiins_probe.PASSWORD_ENV, "secret")

    async def scenario():
        async with EmulatedMiner(host, password="secret"):
            ok = await asyncio.to_thread(braiins_probe.main, _args(host))  # password from env
            denied = await asyncio.to_thread(braiins_probe.main, _args(host, "wrong"))
        return ok, denied

    ok, denied = asyncio.run(scenario())
    assert (ok, denied) == (0, braiins_probe.EXIT_AUTH)
    out, err = capsys.readouterr()
    first = json.loads(out[: out.index("}\n{") + 1])
    assert set(first) == KEYS and first["reachable"] is True
    assert "refused the credentials" in err and host in err
    assert braiins_probe.main(_args(fresh_host(), as_json=False)) == braiins_probe.EXIT_UNREACHABLE
    assert "status      unreachable" in capsys.readouterr().out
