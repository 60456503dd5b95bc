"""``edge-mining emulate miner``: every model of every family, the MINER contract, the list."""

from __future__ import annotations

import argparse
import asyncio

import pytest
from braiins_support import fresh_host
from cli_process import emulate_miners

from edge_mining.devices.emulation import cli
from edge_mining.devices.emulation.server import loopback_hosts


def _args(host: str, model: str, count: int = 2, **extra: object) -> argparse.Namespace:
    data: dict[str, object] = {
        "host": host,
        "count": count,
        "model": model,
        "password": "pw",
        "speed": 10.0,
        "faults": "",
        "list_models": False,
    }
    data.update(extra)
    return argparse.Namespace(**data)


@pytest.mark.parametrize("model", [m.key for m in cli.emulated_models().values()])
async def test_every_model_prints_one_miner_line_per_miner_when_it_listens(model, capsys):
    host = fresh_host()
    stop = asyncio.Event()
    task = asyncio.create_task(cli.serve(_args(host, model), stop))
    out = ""
    try:
        async with asyncio.timeout(10):
            while out.count("MINER") < 2 and not task.done():
                await asyncio.sleep(0.02)
                out += capsys.readouterr().out
    finally:
        stop.set()
        assert await task == 0
    assert out.splitlines() == [f"MINER {h}" for h in loopback_hosts(host, 2)]


def test_list_models_names_every_family(capsys):
    assert cli.main(_args("127.0.0.1", "S19j Pro", list_models=True)) == 0
    out = capsys.readouterr().out
    for name in ("S19j Pro", "S9", "Avalon Q", "Avalon Nano 3S", "Avalon Mini 3"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name


def test_unknown_model_and_bad_host_exit_2(capsys):
    assert cli.main(_args("127.0.0.1", "Avalon Z")) == 2
    assert "unknown miner model 'Avalon Z'" in capsys.readouterr().err
    assert cli.main(_args("10.0.0.1", "Avalon Q")) == 2
    assert "loopback" in capsys.readouterr().err
    # BraiinsOS's own aliases still work.
    assert cli.find_model("Antminer S19j Pro").key == "S19j Pro"


def test_the_command_line_serves_an_avalon_until_sigterm():
    host = fresh_host()
    lines, code = emulate_miners("--model", "Avalon Q", "--host", host, "--count", "2", count=2)
    assert lines == [f"MINER {h}" for h in loopback_hosts(host, 2)]
    assert code == 0
