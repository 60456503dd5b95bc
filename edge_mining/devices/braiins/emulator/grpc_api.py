"""The public BraiinsOS gRPC API (``braiins.bos.v1``) on TCP 50051, served with grpclib.

The services implement the betterproto service bases that pyasic ships, so the wire format is
the one pyasic's client speaks. Authentication works as on BOSer: ``Login`` answers with the
token in the ``authorization`` initial-metadata header; every other call (except
``GetApiVersion``) must carry that header, else it fails with UNAUTHENTICATED.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import betterproto
import grpclib.const
from grpclib import GRPCError, Status
from grpclib.events import RecvRequest, listen
from grpclib.server import Server, Stream
from pyasic.web.braiins_os.proto.braiins import bos
from pyasic.web.braiins_os.proto.braiins.bos import v1

from edge_mining.devices.braiins import api
from edge_mining.devices.braiins.emulator.machine import (
    DANGEROUS_TEMP_C,
    HOT_TEMP_C,
    POOL_URL,
    QUICK_RAMPING_DEFAULT_S,
    QUICK_RAMPING_MAX_S,
    QUICK_RAMPING_MIN_S,
    TARGET_TEMP_C,
    DpsSettings,
    HashboardRefused,
    TargetRefused,
)
from edge_mining.devices.braiins.profile import (
    PROFILE_PATH,
    GetMinerEfficiencyProfileRequest,
    GetMinerEfficiencyProfileResponse,
    MinerEfficiencyPoint,
)

if TYPE_CHECKING:
    from edge_mining.devices.braiins.emulator.server import EmulatedMiner

LOGIN_PATH = "/braiins.bos.v1.AuthenticationService/Login"
PUBLIC_PATHS = frozenset({LOGIN_PATH, "/braiins.bos.ApiVersionService/GetApiVersion"})


def _gh(ths: float) -> v1.GigaHashrate:
    return v1.GigaHashrate(gigahash_per_second=round(ths * 1000.0, 3))


def _apply_flags(save_action: v1.SaveAction) -> tuple[bool, bool]:
    """(apply, force) for a save action; UNSPECIFIED is refused like the firmware does."""
    if save_action == v1.SaveAction.SAVE:
        return False, False
    if save_action == v1.SaveAction.SAVE_AND_APPLY:
        return True, False
    if save_action == v1.SaveAction.SAVE_AND_FORCE_APPLY:
        return True, True
    raise GRPCError(Status.INVALID_ARGUMENT, "save_action must be set")


async def _unimplemented(stream: Stream[object, object]) -> None:
    """A call newer than the emulated API version. Real firmware (tonic) answers an unknown
    method UNIMPLEMENTED with a content type; grpclib's own answer has none, which its client
    reports as UNKNOWN: so the emulator answers as the firmware does."""
    raise GRPCError(Status.UNIMPLEMENTED, "Method not found")


class _Service:
    def __init__(self, miner: EmulatedMiner) -> None:
        self.miner = miner


class ApiVersionService(_Service, bos.ApiVersionServiceBase):
    async def get_api_version(self, api_version_request: bos.ApiVersionRequest) -> bos.ApiVersion:
        # 1.11 by default: the first public API with GetMinerEfficiencyProfile.
        major, minor, patch = self.miner.api_version
        return bos.ApiVersion(major=major, minor=minor, patch=patch)


class AuthenticationService(_Service, v1.AuthenticationServiceBase):
    async def _login(self, stream: Stream[v1.LoginRequest, v1.LoginResponse]) -> None:
        request = await stream.recv_message()
        assert request is not None
        miner = self.miner
        creds = miner.credentials
        if miner.faults.auth or (request.username, request.password) != (
            creds.username,
            creds.password,
        ):
            raise GRPCError(Status.UNAUTHENTICATED, "invalid username or password")
        token = creds.issue(time.monotonic())
        await stream.send_initial_metadata(metadata={"authorization": token})
        await stream.send_message(v1.LoginResponse(token=token, timeout_s=creds.token_timeout_s))

    async def set_password(
        self, set_password_request: v1.SetPasswordRequest
    ) -> v1.SetPasswordResponse:
        self.miner.credentials.password = set_password_request.password or ""
        self.miner.credentials.revoke_all()
        return v1.SetPasswordResponse()

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        # The generated Login handler cannot set initial metadata; route Login to ours.
        mapping = super().__mapping__()
        generated = mapping[LOGIN_PATH]
        mapping[LOGIN_PATH] = grpclib.const.Handler(
            self._login, generated.cardinality, generated.request_type, generated.reply_type
        )
        return mapping


class ActionsService(_Service, v1.ActionsServiceBase):
    async def start(self, start_request: v1.StartRequest) -> v1.StartResponse:
        return v1.StartResponse(already_running=self.miner.machine.start())

    async def stop(self, stop_request: v1.StopRequest) -> v1.StopResponse:
        return v1.StopResponse(already_stopped=self.miner.machine.stop())

    async def pause_mining(
        self, pause_mining_request: v1.PauseMiningRequest
    ) -> v1.PauseMiningResponse:
        return v1.PauseMiningResponse(already_paused=self.miner.machine.pause())

    async def resume_mining(
        self, resume_mining_request: v1.ResumeMiningRequest
    ) -> v1.ResumeMiningResponse:
        return v1.ResumeMiningResponse(already_mining=self.miner.machine.resume())

    async def restart(self, restart_request: v1.RestartRequest) -> v1.RestartResponse:
        already = self.miner.machine.running
        self.miner.machine.restart()
        return v1.RestartResponse(already_running=already)

    async def reboot(self, reboot_request: v1.RebootRequest) -> v1.RebootResponse:
        self.miner.machine.restart()
        return v1.RebootResponse()

    async def set_locate_device_status(
        self, set_locate_device_status_request: v1.SetLocateDeviceStatusRequest
    ) -> v1.LocateDeviceStatusResponse:
        self.miner.machine.locate = set_locate_device_status_request.enable
        return v1.LocateDeviceStatusResponse(enabled=self.miner.machine.locate)

    async def get_locate_device_status(
        self, get_locate_device_status_request: v1.GetLocateDeviceStatusRequest
    ) -> v1.LocateDeviceStatusResponse:
        return v1.LocateDeviceStatusResponse(enabled=self.miner.machine.locate)


class CoolingService(_Service, v1.CoolingServiceBase):
    async def get_cooling_state(
        self, get_cooling_state_request: v1.GetCoolingStateRequest
    ) -> v1.GetCoolingStateResponse:
        m = self.miner.machine
        spec = self.miner.spec
        fans = [
            v1.FanState(position=i, rpm=m.fan_rpm(i), target_speed_ratio=0.6)
            for i in range(spec.fans)
        ]
        hottest = max(range(spec.hashboards), key=m.chip_temperature_c)
        return v1.GetCoolingStateResponse(
            fans=fans,
            highest_temperature=v1.TemperatureSensor(
                id=hottest,
                location=v1.SensorLocation.CHIP,
                temperature=v1.Temperature(degree_c=m.chip_temperature_c(hottest)),
            ),
        )


class PerformanceService(_Service, v1.PerformanceServiceBase):
    def _set(self, watts: int, save_action: v1.SaveAction) -> v1.SetPowerTargetResponse:
        apply, force = _apply_flags(save_action)
        if self.miner.faults.refuse_target:
            raise GRPCError(Status.FAILED_PRECONDITION, "power target change refused")
        try:
            applied = self.miner.machine.set_power_target(watts, apply=apply, force=force)
        except TargetRefused as exc:
            raise GRPCError(Status.INVALID_ARGUMENT, str(exc)) from None
        return v1.SetPowerTargetResponse(power_target=v1.Power(watt=applied))

    async def set_power_target(
        self, set_power_target_request: v1.SetPowerTargetRequest
    ) -> v1.SetPowerTargetResponse:
        req = set_power_target_request
        return self._set(req.power_target.watt, req.save_action)

    async def increment_power_target(
        self, increment_power_target_request: v1.IncrementPowerTargetRequest
    ) -> v1.SetPowerTargetResponse:
        req = increment_power_target_request
        current = self.miner.machine.saved_target_w
        return self._set(current + req.power_target_increment.watt, req.save_action)

    async def decrement_power_target(
        self, decrement_power_target_request: v1.DecrementPowerTargetRequest
    ) -> v1.SetPowerTargetResponse:
        req = decrement_power_target_request
        current = self.miner.machine.saved_target_w
        return self._set(max(current - req.power_target_decrement.watt, 0), req.save_action)

    async def set_default_power_target(
        self, set_default_power_target_request: v1.SetDefaultPowerTargetRequest
    ) -> v1.SetPowerTargetResponse:
        req = set_default_power_target_request
        return self._set(self.miner.spec.default_target_w, req.save_action)

    async def set_performance_mode(
        self, set_performance_mode_request: v1.SetPerformanceModeRequest
    ) -> v1.PerformanceMode:
        req = set_performance_mode_request
        target = req.mode.tuner_mode.power_target.power_target.watt
        if not target:
            raise GRPCError(Status.INVALID_ARGUMENT, "only power target tuner mode is emulated")
        self._set(target, req.save_action)
        return self._mode()

    async def get_active_performance_mode(
        self, get_performance_mode_request: v1.GetPerformanceModeRequest
    ) -> v1.PerformanceMode:
        return self._mode()

    def _mode(self) -> v1.PerformanceMode:
        watts = self.miner.machine.active_target_w
        return v1.PerformanceMode(
            tuner_mode=v1.TunerPerformanceMode(
                power_target=v1.PowerTargetMode(power_target=v1.Power(watt=watts))
            )
        )

    async def _get_miner_efficiency_profile(
        self,
        stream: Stream[GetMinerEfficiencyProfileRequest, GetMinerEfficiencyProfileResponse],
    ) -> None:
        await stream.recv_message()
        points = [
            MinerEfficiencyPoint(
                quality=p.quality,
                power_target=v1.Power(watt=p.power_target_w),
                consumption=v1.Power(watt=p.consumption_w),
                fan_speed=p.fan_speed_pct,
                outlet_temp=v1.Temperature(degree_c=p.outlet_temp_c),
                ambient_temp=v1.Temperature(degree_c=p.ambient_temp_c),
                hashrate=v1.TeraHashrate(terahash_per_second=p.hashrate_ths),
                frequency=v1.Frequency(hertz=p.frequency_hz),
                voltage=v1.Voltage(volt=p.voltage_v),
            )
            for p in self.miner.machine.efficiency_profile()
        ]
        await stream.send_message(GetMinerEfficiencyProfileResponse(points=points))

    async def _set_quick_ramping(
        self, stream: Stream[api.SetQuickRampingRequest, api.QuickRampingResponse]
    ) -> None:
        request = await stream.recv_message()
        assert request is not None
        apply, _ = _apply_flags(request.save_action)
        if apply:
            try:
                self.miner.machine.set_quick_ramping(request.up_s, request.down_s)
            except TargetRefused as exc:
                raise GRPCError(Status.INVALID_ARGUMENT, str(exc)) from None
        await stream.send_message(
            api.QuickRampingResponse(up_s=request.up_s, down_s=request.down_s)
        )

    async def _set_default_quick_ramping(
        self, stream: Stream[api.SetDefaultQuickRampingRequest, api.QuickRampingResponse]
    ) -> None:
        request = await stream.recv_message()
        assert request is not None
        apply, _ = _apply_flags(request.save_action)
        if apply:
            self.miner.machine.set_quick_ramping(None, None)
        default = QUICK_RAMPING_DEFAULT_S
        await stream.send_message(api.QuickRampingResponse(up_s=default, down_s=default))

    def __mapping__(self) -> dict[str, grpclib.const.Handler]:
        # pyasic's generated service predates API 1.7 and 1.11: add quick ramping and
        # GetMinerEfficiencyProfile.
        mapping = super().__mapping__()
        unary = grpclib.const.Cardinality.UNARY_UNARY
        version = self.miner.api_version
        mapping[PROFILE_PATH] = grpclib.const.Handler(
            self._get_miner_efficiency_profile if version >= (1, 11, 0) else _unimplemented,
            unary,
            GetMinerEfficiencyProfileRequest,
            GetMinerEfficiencyProfileResponse,
        )
        quick = version >= (1, 7, 0)
        mapping[api.SET_QUICK_RAMPING_PATH] = grpclib.const.Handler(
            self._set_quick_ramping if quick else _unimplemented,
            unary,
            api.SetQuickRampingRequest,
            api.QuickRampingResponse,
        )
        mapping[api.SET_DEFAULT_QUICK_RAMPING_PATH] = grpclib.const.Handler(
            self._set_default_quick_ramping if quick else _unimplemented,
            unary,
            api.SetDefaultQuickRampingRequest,
            api.QuickRampingResponse,
        )
        return mapping

    async def set_dps(self, set_dps_request: v1.SetDpsRequest) -> v1.SetDpsResponse:
        req = set_dps_request
        # pyasic 0.79's set_dps sends no save action: taken as SAVE_AND_APPLY.
        if req.save_action != v1.SaveAction.UNSPECIFIED:
            _apply_flags(req.save_action)
        m = self.miner.machine
        old = m.dps
        kind, _ = betterproto.which_one_of(req.target, "target")
        if kind == "hashrate_target":
            raise GRPCError(Status.INVALID_ARGUMENT, "only power target DPS is emulated")
        target = req.target.power_target if kind else v1.DpsPowerTarget()
        settings = DpsSettings(
            enabled=old.enabled if req.enable is None else req.enable,
            power_step_w=target.power_step.watt or old.power_step_w,
            min_power_target_w=target.min_power_target.watt or old.min_power_target_w,
            shutdown_enabled=(
                old.shutdown_enabled if req.enable_shutdown is None else req.enable_shutdown
            ),
            shutdown_duration_h=(
                req.shutdown_duration.hours if req.shutdown_duration else old.shutdown_duration_h
            ),
        )
        low, _ = m.target_limits()
        if settings.min_power_target_w and settings.min_power_target_w < low:
            raise GRPCError(
                Status.INVALID_ARGUMENT,
                f"DPS minimal power target {settings.min_power_target_w} W is below {low} W",
            )
        m.set_dps(settings)
        return v1.SetDpsResponse(
            enabled=settings.enabled,
            shutdown_enabled=settings.shutdown_enabled,
            shutdown_duration=v1.Hours(hours=settings.shutdown_duration_h),
            power_target=_dps_power_target(self.miner),
        )

    async def get_tuner_state(
        self, get_tuner_state_request: v1.GetTunerStateRequest
    ) -> v1.GetTunerStateResponse:
        m = self.miner.machine
        state = v1.TunerState.STABLE if m.tuner_stable else v1.TunerState.TUNING
        return v1.GetTunerStateResponse(
            overall_tuner_state=state,
            power_target_mode_state=v1.PowerTargetModeState(
                current_target=v1.Power(watt=round(m.effective_target_w()))
            ),
        )


def _dps_power_target(miner: EmulatedMiner) -> v1.DpsPowerTarget:
    m = miner.machine
    return v1.DpsPowerTarget(
        power_step=v1.Power(watt=m.dps.power_step_w),
        min_power_target=v1.Power(watt=m.dps_floor_w()),
    )


class ConfigurationService(_Service, v1.ConfigurationServiceBase):
    async def get_constraints(
        self, get_constraints_request: v1.GetConstraintsRequest
    ) -> v1.GetConstraintsResponse:
        spec = self.miner.spec
        low, high = self.miner.machine.target_limits()  # narrower with boards disabled
        return api.GetConstraintsResponse(
            tuner_constraints=v1.TunerConstraints(
                power_target=v1.PowerConstraints(
                    default=v1.Power(watt=spec.default_target_w),
                    min=v1.Power(watt=low),
                    max=v1.Power(watt=high),
                ),
                hashrate_target=v1.HashrateConstraints(
                    default=v1.TeraHashrate(terahash_per_second=spec.nominal_ths),
                    min=v1.TeraHashrate(terahash_per_second=round(spec.nominal_ths * 0.4, 1)),
                    max=v1.TeraHashrate(terahash_per_second=round(spec.nominal_ths * 1.2, 1)),
                ),
                enabled=v1.BooleanConstraint(default=True),
                default_mode=v1.TunerMode.POWER_TARGET,
            ),
            cooling_constraints=v1.CoolingConstraints(
                default_cooling_mode=v1.CoolingMode.AUTO,
                target_temperature=v1.TemperatureConstraints(
                    default=v1.Temperature(degree_c=75.0),
                    min=v1.Temperature(degree_c=0.0),
                    max=v1.Temperature(degree_c=200.0),
                ),
            ),
            dps_constraints=v1.DpsConstraints(
                power_step=v1.PowerConstraints(
                    default=v1.Power(watt=200), min=v1.Power(watt=10), max=v1.Power(watt=1000)
                ),
                min_power_target=v1.PowerConstraints(
                    default=v1.Power(watt=spec.min_target_w),
                    min=v1.Power(watt=spec.min_target_w),
                    max=v1.Power(watt=spec.max_target_w),
                ),
                shutdown_enabled=v1.BooleanConstraint(default=False),
                shutdown_duration=v1.DurationConstraints(
                    default=v1.Hours(hours=3), min=v1.Hours(hours=1), max=v1.Hours(hours=48)
                ),
                enabled=v1.BooleanConstraint(default=False),
            ),
            hashboards_constraints=api.HashboardConstraints(
                hashboard_ids=[str(i + 1) for i in range(spec.hashboards)],
                enabled=v1.BooleanConstraint(default=True),
                quick_ramping_time_s=v1.UInt32Constraints(
                    default=QUICK_RAMPING_DEFAULT_S,
                    min=QUICK_RAMPING_MIN_S,
                    max=QUICK_RAMPING_MAX_S,
                ),
            ),
        )

    async def get_miner_configuration(
        self, get_miner_configuration_request: v1.GetMinerConfigurationRequest
    ) -> v1.GetMinerConfigurationResponse:
        m = self.miner.machine
        pool = v1.PoolConfiguration(
            uid="1", url=POOL_URL, user=f"edgemining.{self.miner.hostname}", password="x"
        )
        quick = m.quick_ramping
        return api.GetMinerConfigurationResponse(
            dps=v1.DpsConfiguration(
                enabled=m.dps.enabled,
                power_step=v1.Power(watt=m.dps.power_step_w),
                min_power_target=v1.Power(watt=m.dps_floor_w()),
                shutdown_enabled=m.dps.shutdown_enabled,
                shutdown_duration=v1.Hours(hours=m.dps.shutdown_duration_h),
            ),
            hashboard_config=api.HashboardPerformanceConfiguration(
                quick_ramping_time_up_s=quick[0] if quick else None,
                quick_ramping_time_down_s=quick[1] if quick else None,
            ),
            pool_groups=[
                v1.PoolGroupConfiguration(
                    uid="1", name="default", quota=v1.Quota(value=1), pools=[pool]
                )
            ],
            tuner=v1.TunerConfiguration(
                enabled=True,
                tuner_mode=v1.TunerMode.POWER_TARGET,
                power_target=v1.Power(watt=m.saved_target_w),
            ),
            temperature=v1.CoolingConfiguration(
                minimum_required_fans=1,
                auto=v1.CoolingAutoMode(
                    target_temperature=v1.Temperature(degree_c=TARGET_TEMP_C),
                    hot_temperature=v1.Temperature(degree_c=HOT_TEMP_C),
                    dangerous_temperature=v1.Temperature(degree_c=DANGEROUS_TEMP_C),
                ),
            ),
        )


class MinerService(_Service, v1.MinerServiceBase):
    def _status(self) -> v1.MinerStatus:
        m = self.miner.machine
        if not m.running:
            return v1.MinerStatus.NOT_STARTED
        return v1.MinerStatus.NORMAL if m.mining_enabled else v1.MinerStatus.PAUSED

    async def get_miner_status(
        self, get_miner_status_request: v1.GetMinerStatusRequest
    ) -> AsyncIterator[v1.GetMinerStatusResponse]:
        yield v1.GetMinerStatusResponse(status=self._status())

    async def get_miner_details(
        self, get_miner_details_request: v1.GetMinerDetailsRequest
    ) -> v1.GetMinerDetailsResponse:
        miner = self.miner
        m = miner.machine
        return v1.GetMinerDetailsResponse(
            uid=m.uid,
            miner_identity=v1.MinerIdentity(
                brand=v1.MinerBrand.ANTMINER, name=miner.spec.model, miner_model=miner.spec.model
            ),
            platform=v1.Platform(miner.spec.platform),
            bos_mode=v1.BosMode.NAND,
            bos_version=v1.BosVersion(current=miner.bos_version, major="23.10", bos_plus=True),
            hostname=miner.hostname,
            mac_address=m.mac,
            sticker_hashrate=_gh(miner.spec.nominal_ths),
            bosminer_uptime_s=int(m.bosminer_uptime_s),
            system_uptime_s=int(m.uptime_s),
            status=self._status(),
            kernel_version="5.10.0",
            psu_info=v1.PsuInfo(),
            control_board_soc_family=v1.ControlBoardSocFamily(miner.spec.soc_family),
            serial_number=m.serial,
        )

    async def get_miner_stats(
        self, get_miner_stats_request: v1.GetMinerStatsRequest
    ) -> v1.GetMinerStatsResponse:
        m = self.miner.machine
        power = round(m.power_w)
        rate_5s = m.hashrate_5s_ths
        return v1.GetMinerStatsResponse(
            pool_stats=v1.PoolStats(accepted_shares=m.counters.accepted),
            miner_stats=v1.WorkSolverStats(
                real_hashrate=v1.RealHashrate(
                    last_5_s=_gh(rate_5s),
                    last_1_m=_gh(m.hashrate_1m_ths),
                    last_5_m=_gh(m.hashrate_5m_ths),
                    last_15_m=_gh(m.hashrate_15m_ths),
                ),
                nominal_hashrate=_gh(m.hashrate_at(m.active_target_w)),
            ),
            power_stats=v1.MinerPowerStats(
                approximated_consumption=v1.Power(watt=power),
                efficiency=v1.PowerEfficiency(
                    joule_per_terahash=round(power / rate_5s, 2) if rate_5s > 0 else 0.0
                ),
            ),
        )

    async def get_errors(self, get_errors_request: v1.GetErrorsRequest) -> v1.GetErrorsResponse:
        return v1.GetErrorsResponse()

    async def get_hashboards(
        self, get_hashboards_request: v1.GetHashboardsRequest
    ) -> v1.GetHashboardsResponse:
        m = self.miner.machine
        spec = self.miner.spec
        enabled = m.enabled_boards
        share_5s = m.hashrate_5s_ths / enabled
        boards = [
            v1.Hashboard(
                id=str(i + 1),
                enabled=m.boards_enabled[i],
                chips_count=spec.chips_per_board,
                current_voltage=v1.Voltage(volt=13.6),
                current_frequency=v1.Frequency(hertz=525e6),
                highest_chip_temp=v1.TemperatureSensor(
                    id=i,
                    location=v1.SensorLocation.CHIP,
                    temperature=v1.Temperature(degree_c=m.chip_temperature_c(i)),
                ),
                board_temp=v1.Temperature(degree_c=m.board_temperature_c(i)),
                stats=v1.WorkSolverStats(
                    real_hashrate=v1.RealHashrate(
                        last_5_s=_gh(share_5s if m.boards_enabled[i] else 0.0),
                        last_1_m=_gh(m.hashrate_1m_ths / enabled if m.boards_enabled[i] else 0.0),
                    ),
                    nominal_hashrate=_gh(
                        m.hashrate_at(m.active_target_w) / enabled if m.boards_enabled[i] else 0.0
                    ),
                ),
                serial_number=f"{m.serial}-HB{i + 1}",
            )
            for i in range(spec.hashboards)
        ]
        return v1.GetHashboardsResponse(hashboards=boards)

    def _set_boards(
        self, ids: list[str], enabled: bool, save_action: v1.SaveAction
    ) -> list[v1.HashboardEnableState]:
        apply, _ = _apply_flags(save_action)
        m = self.miner.machine
        try:
            indices = [int(i) - 1 for i in ids]
            state = m.set_hashboards(indices, enabled, apply=apply)
        except ValueError:
            raise GRPCError(Status.INVALID_ARGUMENT, f"unknown hashboard id in {ids}") from None
        except HashboardRefused as exc:
            raise GRPCError(Status.FAILED_PRECONDITION, str(exc)) from None
        return [v1.HashboardEnableState(id=str(i + 1), is_enabled=on) for i, on in enumerate(state)]

    async def enable_hashboards(
        self, enable_hashboards_request: v1.EnableHashboardsRequest
    ) -> v1.EnableHashboardsResponse:
        req = enable_hashboards_request
        boards = self._set_boards(req.hashboard_ids, True, req.save_action)
        return v1.EnableHashboardsResponse(hashboards=boards)

    async def disable_hashboards(
        self, disable_hashboards_request: v1.DisableHashboardsRequest
    ) -> v1.DisableHashboardsResponse:
        req = disable_hashboards_request
        boards = self._set_boards(req.hashboard_ids, False, req.save_action)
        return v1.DisableHashboardsResponse(hashboards=boards)


class PoolService(_Service, v1.PoolServiceBase):
    async def get_pool_groups(
        self, get_pool_groups_request: v1.GetPoolGroupsRequest
    ) -> v1.GetPoolGroupsResponse:
        m = self.miner.machine
        pool = v1.Pool(
            uid="1",
            url=POOL_URL,
            user=f"edgemining.{self.miner.hostname}",
            enabled=True,
            alive=m.running,
            active=m.running,
            stats=v1.PoolStats(accepted_shares=m.counters.accepted),
        )
        return v1.GetPoolGroupsResponse(
            pool_groups=[v1.PoolGroup(name="default", quota=v1.Quota(value=1), pools=[pool])]
        )


class LicenseService(_Service, v1.LicenseServiceBase):
    async def get_license_state(
        self, get_license_state_request: v1.GetLicenseStateRequest
    ) -> v1.GetLicenseStateResponse:
        return v1.GetLicenseStateResponse(
            valid=v1.ValidLicense(type=v1.LicenseType.STANDARD, contract_name="edge-mining")
        )


def build_server(miner: EmulatedMiner) -> Server:
    """A grpclib server for ``miner`` with token authentication and the slow-reply fault."""
    services = [
        cls(miner)
        for cls in (
            ApiVersionService,
            AuthenticationService,
            ActionsService,
            CoolingService,
            PerformanceService,
            ConfigurationService,
            MinerService,
            PoolService,
            LicenseService,
        )
    ]
    server = Server(services)

    async def on_request(event: RecvRequest) -> None:
        if miner.faults.slow_s:
            await asyncio.sleep(miner.faults.slow_s)
        if event.method_name in PUBLIC_PATHS:
            return
        token = event.metadata.get("authorization")
        token = token if isinstance(token, str) else None
        if miner.faults.auth or not miner.credentials.valid(token, time.monotonic()):
            raise GRPCError(Status.UNAUTHENTICATED, "authentication required")

    listen(server, RecvRequest, on_request)
    return server
