"""Sending the controller's commands to the miners' drivers, and the shutdown action.

Every command is bounded by a timeout; a refused, failed or unanswered command is logged and
ends that miner's list for this tick (the next tick decides again), never the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from edge_mining.devices.base import DeviceError, MinerDriver
from edge_mining.model import Action, Command

log = logging.getLogger(__name__)


async def send(driver: MinerDriver, command: Command) -> None:
    match command.action:
        case Action.START:
            if command.power_w is not None:
                # The target first: the miner resumes at the planned power, not at whatever
                # target it had (the controller would otherwise retry a set_power later).
                await driver.set_power_target(command.power_w)
            await driver.start()
        case Action.STOP:
            await driver.stop()
        case Action.SET_POWER:
            if command.power_w is None:
                raise DeviceError(f"{driver.name}: set_power without a target")
            await driver.set_power_target(command.power_w)


async def send_in_order(driver: MinerDriver, commands: Sequence[Command], timeout_s: float) -> None:
    """One miner's commands, in order; the first that fails ends the list."""
    for command in commands:
        try:
            async with asyncio.timeout(timeout_s):
                await send(driver, command)
        except TimeoutError:
            log.warning("%s: not acknowledged within %g s", command, timeout_s)
            return
        except DeviceError as error:
            log.warning("%s: failed: %s", command, error)
            return
        except Exception:
            log.exception("%s: driver error", command)
            return
        log.info("%s", command)


async def leave_for_shutdown(
    name: str,
    driver: MinerDriver,
    action: str,
    *,
    min_power_w: float | None,
    timeout_s: float,
) -> bool:
    """Put one miner in the shutdown ``action`` ("pause" or "min_power"; ``min_power_w`` is
    None for a miner without a power target, which is then left as it is). True if the miner
    acknowledged a command."""
    try:
        async with asyncio.timeout(timeout_s):
            if action == "pause":
                await driver.stop()
                log.info("shutdown: %s paused", name)
            elif min_power_w is not None:
                await driver.set_power_target(min_power_w)
                log.info("shutdown: %s set to its minimum power %g W", name, min_power_w)
            else:
                log.info("shutdown: %s has no power target: left as it is", name)
                return False
    except (TimeoutError, DeviceError) as error:
        log.warning("shutdown: %s: %s", name, str(error) or "timed out")
        return False
    except Exception:
        log.exception("shutdown: %s: driver error", name)
        return False
    return True
