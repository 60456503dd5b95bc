"""BraiinsOS miners (and other pyasic-supported miners) through pyasic.

Backends, chosen by what pyasic detects:

- ``boser`` (BraiinsOS+ 23.03 and later): telemetry from the cgminer-style API on 4028 in one
  multi-command round trip (summary, devs, tunerstatus, temps, fans); commands on the gRPC API
  on 50051 with pyasic's login token: pause/resume, power target with SAVE_AND_APPLY (the tuner
  re-targets while mining continues; pyasic's own ``set_power_limit`` force-applies, which
  restarts bosminer, so it is not used), clamped to the constraints the miner publishes and
  confirmed by reading the active performance mode back. Beyond pyasic
  (:mod:`~edge_mining.devices.braiins.api`): quick ramping (API 1.7) set at detection when
  configured; below the power-target floor, fewer hashboards (``hashboard_shedding``);
  Dynamic Performance Scaling read from ``tunerstatus`` and never fought (no target above the
  limit DPS holds, which would restart its scaling), shown in the miner's errors; the tuner's
  efficiency curve (``GetMinerEfficiencyProfile``, API 1.11, through grpclib beside pyasic:
  :mod:`~edge_mining.devices.braiins.profile`) read at detection and reported with every
  reading, for the controller and the planner.
- ``bosminer`` (legacy BOSminer, no gRPC): the same telemetry; pause/resume on 4028. A power
  target would need a config rewrite and a bosminer restart, so it is refused.
- ``pyasic`` (any other miner pyasic knows, or ``driver: pyasic``): telemetry from pyasic's
  ``get_data`` and on/off through ``stop_mining``/``resume_mining`` where pyasic supports them.

Detection, bounded reads and commands and losses are
:class:`~edge_mining.devices.pyasic_core.PyasicCore`'s, as for every pyasic family: the pyasic
miner object is detected once and cached, and detected again only after the miner became
unreachable (it may come back with other firmware); ``read`` is bounded by ``timeout_s`` and
never raises for an unreachable miner: it reports UNREACHABLE.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from grpclib import GRPCError, Status
from pyasic.errors import APIError
from pyasic.miners.backends import BOSer, BOSMiner
from pyasic.miners.base import AnyMiner
from pyasic.miners.data import DataOptions
from pyasic.miners.factory import miner_factory
from pyasic.web.braiins_os.proto.braiins.bos.v1 import MinerStatus as GrpcMinerStatus
from pyasic.web.braiins_os.proto.braiins.bos.v1 import SaveAction

from edge_mining.devices.base import (
    CommandRejected,
    DeviceAuthError,
    DeviceError,
    DeviceUnavailable,
)
from edge_mining.devices.braiins.api import (
    boards_for,
    dps_scaled_limit,
    read_quick_ramping,
    set_quick_ramping,
)
from edge_mining.devices.braiins.profile import curve_from_profile, read_efficiency_profile
from edge_mining.devices.miner_state import Observation
from edge_mining.devices.pyasic_core import PyasicCore, detection_slots
from edge_mining.devices.redact import add_secret
from edge_mining.model import HashrateCurve, MinerState, MinerStatus

T = TypeVar("T")

# Named for the package (the module's name before it became one): log lines are unchanged.
log = logging.getLogger("edge_mining.devices.braiins")

Backend = Literal["boser", "bosminer", "pyasic"]

TELEMETRY_COMMAND = "summary+devs+tunerstatus+temps+fans"
HEALTHY_CHAIN_STATES = frozenset(
    {"Stable", "Testing performance profile", "Tuning individual chips"}
)
AUTH_STATUSES = frozenset({Status.UNAUTHENTICATED, Status.PERMISSION_DENIED})
REFUSAL_STATUSES = frozenset(
    {Status.INVALID_ARGUMENT, Status.FAILED_PRECONDITION, Status.OUT_OF_RANGE}
)
GENERIC_DATA = [
    DataOptions.HASHRATE,
    DataOptions.WATTAGE,
    DataOptions.WATTAGE_LIMIT,
    DataOptions.FANS,
    DataOptions.HASHBOARDS,
    DataOptions.ERRORS,
    DataOptions.IS_MINING,
]


@dataclass(frozen=True, slots=True)
class TargetConstraints:
    """The power-target range the miner itself accepts."""

    min_w: float
    max_w: float
    default_w: float | None = None


@dataclass(frozen=True, slots=True)
class Telemetry:
    hashrate_5s_ths: float
    power_w: float
    power_target_w: float | None
    temperature_c: float | None
    fan_rpm: float | None
    errors: tuple[str, ...]
    mining_flag: bool | None = None
    dps_scaled_w: float | None = None  # the limit DPS holds the miner at, while it does


class BraiinsMiner(PyasicCore[Telemetry]):
    """A :class:`~edge_mining.devices.base.MinerDriver` on pyasic."""

    logger = log

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # PyasicCore's: config, clock=, timeout_s=...
        self.backend: Backend | None = None
        self.constraints: TargetConstraints | None = None
        self._auth_error: str | None = None
        self._last_status: MinerStatus | None = None  # for a debug line when it changes
        self._initial_flag: bool | None = None
        self._last_target_w: float | None = None
        # The last refused power target, reported in ``errors`` until one is accepted.
        self._target_error: str | None = None
        # BOSer extras: hashboard ids, how many run, the constraints with all of them, the
        # limit DPS holds, and the quick ramping applied (up s, down s).
        self.board_ids: list[str] = []
        self.boards_enabled: int | None = None
        self._full_constraints: TargetConstraints | None = None
        self._dps_scaled_w: float | None = None
        self.quick_ramping: tuple[int, int] | None = None
        # The tuner's efficiency curve (BraiinsOS API 1.11), read at detection.
        self.curve: HashrateCurve | None = None

    def __repr__(self) -> str:
        # Never the password.
        return f"BraiinsMiner(name={self.name!r}, host={self.host!r}, backend={self.backend!r})"

    @property
    def auth_error(self) -> str | None:
        """Why the miner refused our credentials, while it does."""
        return self._auth_error

    # ------------------------------------------------------------------------- reading

    async def _read_telemetry(self, miner: AnyMiner) -> Telemetry:
        if self._auth_error is not None and self.backend == "boser":
            await self._check_auth(miner)
        return await self._poll(miner)

    def _reading(self, now: float, telemetry: Telemetry) -> MinerState:
        self._last_target_w = telemetry.power_target_w
        self._dps_scaled_w = telemetry.dps_scaled_w
        flag = telemetry.mining_flag
        if flag is None:
            flag, self._initial_flag = self._initial_flag, None
        observation = Observation(True, telemetry.hashrate_5s_ths, flag)
        status, reason = self.tracker.observe(observation, now)
        errors = telemetry.errors
        if reason:
            errors = (reason, *errors)
        if self._target_error:
            errors = (*errors, self._target_error)
        if telemetry.dps_scaled_w is not None:
            errors = (
                *errors,
                f"Dynamic Performance Scaling holds the power limit at "
                f"{telemetry.dps_scaled_w:.0f} W (the chips run hot)",
            )
        if self._auth_error:
            status = MinerStatus.ERROR
            errors = (self._auth_error, *errors)
        if status != self._last_status:
            log.debug("%s: %s", self.label, status.value)
            self._last_status = status
        low, high = self._miner_range()
        return MinerState(
            name=self.name,
            timestamp=now,
            status=status,
            hashrate_ths=telemetry.hashrate_5s_ths,
            power_w=telemetry.power_w,
            power_target_w=telemetry.power_target_w,
            target_min_w=low,
            target_max_w=high,
            temperature_c=telemetry.temperature_c,
            fan_rpm=telemetry.fan_rpm,
            errors=errors,
            model=self.model,
            firmware=self.firmware,
            serial=self.serial,
            curve=self.curve,
        )

    def _state(self, now: float, status: MinerStatus, *, errors: tuple[str, ...]) -> MinerState:
        return MinerState(
            name=self.name,
            timestamp=now,
            status=status,
            errors=errors,
            model=self.model,
            firmware=self.firmware,
            serial=self.serial,
        )

    async def _poll(self, miner: AnyMiner) -> Telemetry:
        if self.backend == "pyasic":
            return await self._poll_generic(miner)
        try:
            data = await miner.rpc.send_command(TELEMETRY_COMMAND, allow_warning=False)
        except APIError as exc:
            raise DeviceUnavailable(f"{self.label}: cgminer API error: {exc}") from exc
        except OSError as exc:
            raise DeviceUnavailable(f"{self.label}: {exc}") from exc
        if "summary" not in data:
            # pyasic returns {} when the connection is refused.
            raise DeviceUnavailable(f"{self.label}: no answer on the cgminer API (4028)")
        try:
            return parse_telemetry(data)
        except (LookupError, TypeError, ValueError) as exc:
            raise DeviceUnavailable(f"{self.label}: malformed cgminer API reply: {exc}") from exc

    async def _poll_generic(self, miner: AnyMiner) -> Telemetry:
        data = await miner.get_data(include=GENERIC_DATA)
        if data.raw_hashrate is None and data.wattage is None:
            raise DeviceUnavailable(f"{self.label}: pyasic returned no data")
        hashrate = float(data.hashrate or 0.0) if data.is_mining else 0.0
        temps = [b.chip_temp or b.temp for b in data.hashboards if (b.chip_temp or b.temp)]
        fans = [f.speed for f in data.fans if f.speed is not None]
        return Telemetry(
            hashrate_5s_ths=hashrate,
            power_w=float(data.wattage or 0.0),
            power_target_w=float(data.wattage_limit) if data.wattage_limit else None,
            temperature_c=float(max(temps)) if temps else None,
            fan_rpm=sum(fans) / len(fans) if fans else None,
            errors=tuple(str(e.error_message) for e in data.errors),
            mining_flag=data.is_mining,
        )

    # ------------------------------------------------------------------------- detection

    async def _detect(self) -> AnyMiner:
        async with detection_slots():
            async with asyncio.timeout(self.detect_timeout_s):
                miner = await miner_factory.get_miner(self.host)
                if miner is None:
                    raise DeviceUnavailable(f"{self.label}: no miner answers")
                self.detections += 1
                self._configure(miner)
                self.tracker.forget()
                self._miner = miner
                self._lost = False
                await self._describe(miner)
        log.info("%s detected: %s, backend %s", self.label, self.model, self.backend)
        return miner

    def _configure(self, miner: AnyMiner) -> None:
        password = self.config.password.get_secret_value() or "root"
        web = getattr(miner, "web", None)
        if web is not None:
            web.username = self.config.username
            web.pwd = password
        if isinstance(miner, BOSer) and self.config.port:
            web.port = self.config.port  # a non-standard gRPC port
        if self.config.driver == "pyasic" or not isinstance(miner, BOSer | BOSMiner):
            self.backend = "pyasic"
        else:
            self.backend = "boser" if isinstance(miner, BOSer) else "bosminer"
        self.model = str(miner.model) if miner.model else None
        self._auth_error = None

    async def _describe(self, miner: AnyMiner) -> None:
        """Static facts, fetched once per detection: constraints, firmware, serial, status."""
        if self.backend == "bosminer":
            # LuCI's bos/info (port 80) names the release; optional, so errors are ignored.
            try:
                self.firmware = firmware_name(await self._bounded(miner.get_fw_ver()))
            except (DeviceError, APIError, OSError):
                self.firmware = None
        if self.backend != "boser":
            return
        losses = self.losses
        try:
            await self._check_auth(miner)
        except DeviceUnavailable as exc:
            if _find_grpc_error(exc) is None and _caused_by(exc, ConnectionError):
                # 4028 answers but gRPC does not: an old BOSminer on X19 hardware. The refused
                # gRPC connection was this probe, not a loss.
                log.info("%s: no gRPC API, using the legacy BOSminer backend", self.label)
                self.backend = "bosminer"
                self._lost, self.losses = False, losses
                return
            raise
        if self._auth_error is None:
            await self._describe_boards(miner)
            if self.config.quick_ramping_s is not None:
                await self._apply_quick_ramping(miner, self.config.quick_ramping_s)
            await self._read_profile(miner)

    async def _describe_boards(self, miner: AnyMiner) -> None:
        """The hashboards and how many run; the power-target range with all of them (with
        boards disabled BraiinsOS narrows it to theirs)."""
        try:
            reply = await self._grpc(miner.web.get_hashboards())
        except DeviceError as exc:
            log.info("%s: hashboards not listed: %s", self.label, exc)
            return
        boards = [b for b in reply.get("hashboards", []) if b.get("id") is not None]
        self.board_ids = sorted((str(b["id"]) for b in boards), key=_board_order)
        self.boards_enabled = sum(1 for b in boards if b.get("enabled"))
        c = self.constraints
        if c is not None and self.boards_enabled:
            share = len(self.board_ids) / self.boards_enabled
            self._full_constraints = TargetConstraints(
                c.min_w * share, c.max_w * share, c.default_w
            )

    async def _newer_api(
        self,
        miner: AnyMiner,
        request: Callable[[str], Awaitable[T]],
        *,
        missing: str,
        failed: str,
    ) -> T | None:
        """``request(token)``: a call of a newer BraiinsOS API (its own gRPC client beside
        pyasic's) with the login token, within twice the timeout. Never fails detection: older
        firmware (UNIMPLEMENTED) logs "no <missing>", any other failure "<failed>: <why>", and
        the result is None."""
        try:
            async with asyncio.timeout(2 * self.timeout_s):
                return await request(await miner.web.auth())
        except GRPCError as exc:
            if exc.status is Status.UNIMPLEMENTED:
                log.info("%s: no %s", self.label, missing)
            else:
                log.warning("%s: %s: %s", self.label, failed, exc.message or exc)
        except (TimeoutError, OSError, APIError) as exc:
            log.warning("%s: %s: %s", self.label, failed, root_cause(exc))
        return None

    async def _apply_quick_ramping(self, miner: AnyMiner, seconds: int) -> None:
        """Set quick ramping (API 1.7) to ``seconds`` up and down, clamped to the miner's
        range."""
        port = miner.web.port

        async def apply(token: str) -> int:
            current = await read_quick_ramping(self.host, port, token, timeout_s=self.timeout_s)
            wanted = current.clamp(seconds)
            if (current.up_s, current.down_s) != (wanted, wanted):
                await set_quick_ramping(
                    self.host, port, token, wanted, wanted, timeout_s=self.timeout_s
                )
                log.info("%s: quick ramping %d s up and down", self.label, wanted)
            return wanted

        wanted = await self._newer_api(
            miner,
            apply,
            missing="quick ramping (BraiinsOS API before 1.7)",
            failed="quick ramping not set",
        )
        if wanted is not None:
            self.quick_ramping = (wanted, wanted)

    async def _read_profile(self, miner: AnyMiner) -> None:
        """The tuner's efficiency curve (GetMinerEfficiencyProfile, API 1.11), once per
        detection. Older firmware, an untuned miner or an error leaves the curve it had (the
        configured or nominal one in the controller)."""
        points = await self._newer_api(
            miner,
            lambda token: read_efficiency_profile(
                self.host, miner.web.port, token, timeout_s=self.timeout_s
            ),
            missing="efficiency profile (BraiinsOS API before 1.11)",
            failed="efficiency profile not read",
        )
        if points is None:
            return
        curve = curve_from_profile(points)
        if curve is None:
            log.info("%s: the efficiency profile has no tuned point yet", self.label)
            return
        if curve != self.curve:
            log.info(
                "%s: efficiency profile of %d points, %.0f-%.0f W",
                self.label,
                len(curve.points),
                curve.min_power_w,
                curve.max_power_w,
            )
        self.curve = curve

    async def _check_auth(self, miner: AnyMiner) -> None:
        """Fetch constraints and details over gRPC; sets or clears the authentication error."""
        try:
            constraints = await self._grpc(miner.web.get_constraints())
            details = await self._grpc(miner.web.get_miner_details())
        except DeviceAuthError:
            return  # _translate set and logged the error (once until accepted again)
        if self._auth_error is not None:
            user = self.config.username
            log.info("%s accepts the credentials of user %r again", self.label, user)
        self._auth_error = None
        remember_session_token(miner)
        self.constraints = parse_constraints(constraints) or self.constraints
        self.firmware = firmware_name(details.get("bosVersion", {}).get("current")) or self.firmware
        self.serial = details.get("serialNumber") or self.serial
        self._initial_flag = _mining_enabled(details)

    # ------------------------------------------------------------------------- commands

    async def start(self) -> None:
        """Resume mining (BOSer: start bosminer first if it is not running)."""
        miner = await self._require()
        if self.backend == "boser":
            details = await self._grpc(miner.web.get_miner_details())
            if details.get("status") == GrpcMinerStatus.NOT_STARTED:
                await self._grpc(miner.web.start())
            await self._grpc(miner.web.resume_mining())
        elif self.backend == "bosminer":
            await self._rpc_action(miner, "resume")
        else:
            await self._generic_action(miner.resume_mining(), "resume")
        self.tracker.command(True, self.clock.now())
        log.info("%s: resume mining", self.label)

    async def stop(self) -> None:
        """Pause mining (never a power cut: the control board stays up)."""
        miner = await self._require()
        if self.backend == "boser":
            await self._grpc(miner.web.pause_mining())
        elif self.backend == "bosminer":
            await self._rpc_action(miner, "pause")
        else:
            await self._generic_action(miner.stop_mining(), "pause")
        self.tracker.command(False, self.clock.now())
        log.info("%s: pause mining", self.label)

    async def set_power_target(self, watts: float) -> float:
        """Apply a power target without restarting mining; returns the target applied."""
        try:
            applied = await self._set_power_target(watts)
        except CommandRejected as exc:
            self._target_error = str(exc)
            raise
        self._target_error = None
        return applied

    async def _set_power_target(self, watts: float) -> float:
        if not self.config.power_target:
            raise CommandRejected(f"{self.label}: configured without a power target")
        miner = await self._require()
        if self.backend == "bosminer":
            raise CommandRejected(
                f"{self.label}: legacy BOSminer can only change its power target by restarting;"
                " upgrade to BraiinsOS 23.03 or later"
            )
        if self.backend == "pyasic":
            return await self._set_generic_target(miner, watts)
        if self.constraints is None:
            await self._check_auth(miner)
            if self._auth_error:
                raise DeviceAuthError(self._auth_error)
        wanted = self.clamp(watts)
        scaled = self._dps_scaled_w
        if scaled is not None and wanted > scaled:
            # DPS holds the limit lower because the chips run hot; a higher target would only
            # restart its scaling from there. Not fought: the limit DPS holds is what we get.
            log.debug("%s: %d W not set, DPS holds %d W", self.label, wanted, scaled)
            return scaled
        wanted = await self._run_boards_for(miner, wanted)
        if self._last_target_w is not None and abs(self._last_target_w - wanted) < 1:
            return float(wanted)  # already there: no needless config write
        reply = await self._grpc(
            miner.web.set_power_target(wanted, save_action=SaveAction.SAVE_AND_APPLY)
        )
        mode = await self._grpc(miner.web.get_active_performance_mode())
        try:
            active = int(mode["tunerMode"]["powerTarget"]["powerTarget"]["watt"])
        except (LookupError, TypeError, ValueError):
            raise CommandRejected(
                f"{self.label}: set {wanted} W but the active mode is not a power target ({reply})"
            ) from None
        if active != wanted:
            raise CommandRejected(f"{self.label}: set {wanted} W but the miner runs {active} W")
        self._last_target_w = float(active)
        log.info("%s: power target %d W", self.label, active)
        return float(active)

    def _miner_range(self) -> tuple[float | None, float | None]:
        """The targets the miner takes: its constraints, or with hashboard shedding from one
        board's floor to the full machine's ceiling."""
        c = self.constraints
        if c is None:
            return None, None
        full = self._full_constraints
        if self._shedding and full is not None:
            return full.min_w / len(self.board_ids), full.max_w
        return c.min_w, c.max_w

    @property
    def _shedding(self) -> bool:
        return self.config.hashboard_shedding and len(self.board_ids) > 1

    async def _run_boards_for(self, miner: AnyMiner, wanted: int) -> int:
        """With hashboard shedding, enable or disable boards so that ``wanted`` fits them;
        returns the target inside what the running boards accept."""
        full = self._full_constraints
        if not self._shedding or full is None or self.boards_enabled is None:
            return wanted
        n = len(self.board_ids)
        k = boards_for(wanted, full.min_w, n)
        if k != self.boards_enabled:
            on, off = self.board_ids[:k], self.board_ids[k:]
            await self._grpc(miner.web.enable_hashboards(on))
            if off:
                await self._grpc(miner.web.disable_hashboards(off))
            self.boards_enabled = k
            self._last_target_w = None  # the tuner moved its target into the boards' range
            self.constraints = (
                parse_constraints(await self._grpc(miner.web.get_constraints())) or self.constraints
            )
            log.info("%s: %d of %d hashboards for %d W", self.label, k, n, wanted)
        low, high = k * full.min_w / n, k * full.max_w / n
        if self.constraints is not None:
            low = max(low, self.constraints.min_w)
            high = min(high, self.constraints.max_w)
        return int(round(min(max(wanted, low), high)))

    async def _set_generic_target(self, miner: AnyMiner, watts: float) -> float:
        wanted = self.clamp(watts)
        ok = await self._generic_action(miner.set_power_limit(wanted), "set power limit")
        del ok
        limit = await self._bounded(miner.get_wattage_limit())
        if limit is None or abs(limit - wanted) >= 1:
            raise CommandRejected(f"{self.label}: set {wanted} W but read back {limit}")
        return float(limit)

    # ------------------------------------------------------------------------- transport

    async def _grpc(self, call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """Run one pyasic gRPC call, mapping failures onto the driver errors."""
        what = getattr(call, "__name__", "gRPC call").replace("_", " ")
        try:
            return await self._bounded(call)
        except DeviceError:
            raise
        except Exception as exc:
            raise self._translate(exc, what) from exc

    def _translate(self, exc: BaseException, what: str = "gRPC call") -> DeviceError:
        grpc_error = _find_grpc_error(exc)
        if grpc_error is not None:
            message = grpc_error.message or grpc_error.status.name
            if grpc_error.status in AUTH_STATUSES:
                return self._auth_refused(
                    f"{self.label} refused the credentials of user {self.config.username!r}:"
                    f" {message}"
                )
            if grpc_error.status in REFUSAL_STATUSES:
                return CommandRejected(f"{self.label} refused the command: {message}")
            return DeviceUnavailable(
                f"{self.label}: gRPC error {grpc_error.status.name}: {message}"
            )
        self._mark_lost()
        # pyasic's message names its stub's bound method ("gRPC command failed - <bound
        # method ...>"): say what failed and the underlying cause instead.
        return DeviceUnavailable(f"{self.label}: {what} failed: {root_cause(exc)}")

    def _auth_refused(self, message: str) -> DeviceAuthError:
        """The miner refused our login: an error line once (naming the miner and the user,
        never the password), then the miner is in ERROR until it accepts us again."""
        if self._auth_error is None:
            log.error("%s", message)
        self._auth_error = message
        return DeviceAuthError(message)

    async def _rpc_action(self, miner: AnyMiner, command: Literal["pause", "resume"]) -> None:
        try:
            reply = await self._bounded(miner.rpc.send_command(command))
        except APIError as exc:
            raise CommandRejected(f"{self.label} refused {command}: {exc}") from exc
        except OSError as exc:
            self._mark_lost()
            raise DeviceUnavailable(f"{self.label}: {exc}") from exc
        if command.upper() not in reply:
            self._mark_lost()
            raise DeviceUnavailable(f"{self.label}: no answer to {command} on 4028")

    async def _generic_action(self, call: Awaitable[bool], what: str) -> bool:
        try:
            ok = await self._bounded(call)
        except (APIError, OSError) as exc:
            raise DeviceUnavailable(f"{self.label}: {what} failed: {exc}") from exc
        if not ok:
            raise CommandRejected(f"{self.label}: pyasic could not {what} this miner")
        return ok


def firmware_name(version: str | None) -> str | None:
    """``"2023-11-09-0-c5cdc1c5-23.10-plus"`` -> ``"BraiinsOS+ 23.10"`` (as is when unknown)."""
    if not version:
        return None
    parts = version.split("-")
    if len(parts) >= 6 and "." in parts[5]:
        return f"BraiinsOS+ {parts[5]}" if version.endswith("plus") else f"BraiinsOS {parts[5]}"
    if parts[0].replace(".", "").isdigit():
        return f"BraiinsOS {version}"  # pyasic already shortened it
    return version


def _mining_enabled(details: dict[str, Any]) -> bool | None:
    """The miner's own mining flag from GetMinerDetails (None when it does not say)."""
    status = details.get("status")
    if status is None:
        return None
    return status == GrpcMinerStatus.NORMAL


def root_cause(exc: BaseException) -> str:
    """The innermost cause of ``exc`` in words: its message and type, never an object repr."""
    cause = exc
    for _ in range(6):
        inner = cause.__cause__ or cause.__context__
        if inner is None:
            break
        cause = inner
    name = type(cause).__name__
    text = " ".join(str(cause).split())
    if not text or " at 0x" in text or "<bound method" in text:
        return name
    return f"{text} ({name})"


def remember_session_token(miner: AnyMiner) -> None:
    """Redact BraiinsOS's login token from the log (wire loggers print gRPC headers)."""
    token = getattr(getattr(miner, "web", None), "token", None)
    if isinstance(token, str):
        add_secret(token)


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    for _ in range(6):
        if exc is None:
            return False
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _find_grpc_error(exc: BaseException | None) -> GRPCError | None:
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, GRPCError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def parse_telemetry(data: dict[str, Any]) -> Telemetry:
    """Telemetry from a ``summary+devs+tunerstatus+temps+fans`` multi-command reply."""
    summary = data["summary"][0]["SUMMARY"][0]
    hashrate = float(summary["MHS 5s"]) / 1e6
    devs = data.get("devs", [{}])[0].get("DEVS", [])
    if devs and not any(float(dev.get("MHS 5s", 0)) > 0 for dev in devs):
        hashrate = 0.0
    tuner = data.get("tunerstatus", [{}])[0].get("TUNERSTATUS", [{}])[0]
    power = float(tuner.get("ApproximateMinerPowerConsumption", 0.0))
    dps_scaled = dps_scaled_limit(tuner)
    limit = tuner.get("PowerLimit")
    errors = tuple(
        f"hashboard {chain.get('HashchainIndex')}: {chain.get('Status')}"
        for chain in tuner.get("TunerChainStatus", []) or []
        if chain.get("Status") not in HEALTHY_CHAIN_STATES
    )
    temps = data.get("temps", [{}])[0].get("TEMPS", [])
    chip_temps = [float(t["Chip"]) for t in temps if t.get("Chip") is not None]
    fans = data.get("fans", [{}])[0].get("FANS", [])
    rpms = [float(f["RPM"]) for f in fans if f.get("RPM") is not None]
    return Telemetry(
        hashrate_5s_ths=hashrate,
        power_w=power,
        power_target_w=float(limit) if limit is not None else None,
        temperature_c=max(chip_temps) if chip_temps else None,
        fan_rpm=sum(rpms) / len(rpms) if rpms else None,
        errors=errors,
        dps_scaled_w=dps_scaled,
    )


def _board_order(board_id: str) -> tuple[int, str]:
    return (int(board_id), board_id) if board_id.isdigit() else (1 << 30, board_id)


def parse_constraints(reply: dict[str, Any]) -> TargetConstraints | None:
    """The power-target constraints from a gRPC ``GetConstraints`` reply (camelCase dict)."""
    try:
        power = reply["tunerConstraints"]["powerTarget"]
        low = float(power["min"].get("watt", 0))
        high = float(power["max"]["watt"])
        default = power.get("default", {}).get("watt")
    except (LookupError, TypeError, ValueError):
        return None
    return TargetConstraints(low, high, float(default) if default is not None else None)
