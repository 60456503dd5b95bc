"""TLS with a client certificate, and ``edge-mining demo --mqtt HOST:PORT``, on real brokers."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from edge_mining.mqtt.broker import BrokerTls, EmbeddedBroker, parse_broker_address
from tests.mqtt_broker import Recorder, private_broker, unique_namespace
from tests.mqtt_site import running_site, site_config

__all__ = ["private_broker"]


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _certificate(
    subject: str, key, issuer_name: x509.Name | None, issuer_key, *, ca: bool, ip: str | None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pki(directory: Path) -> dict[str, Path]:
    paths = {k: directory / f"{k}.pem" for k in ("ca", "server", "server_key", "client")}
    paths["client_key"] = directory / "client_key.pem"
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, None, ca_key, ca=True, ip=None)
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for role, ip in (("server", "127.0.0.1"), ("client", None)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(role, key, ca.subject, ca_key, ca=False, ip=ip)
        paths[role].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, paths[f"{role}_key"])
    return paths


async def test_tls_with_ca_and_client_certificate(tmp_path):
    pki = _pki(tmp_path)
    tls = BrokerTls(pki["ca"], pki["server"], pki["server_key"], require_certificate=True)
    with EmbeddedBroker(tls=tls) as broker:
        base, prefix = unique_namespace("tls")
        site = site_config(
            broker,
            tmp_path / "state",
            base,
            prefix,
            tls=True,
            ca_file=str(pki["ca"]),
            client_cert_file=str(pki["client"]),
            client_key_file=str(pki["client_key"]),
        )
        async with running_site(site) as running:
            await asyncio.sleep(0.2)
            assert running.bridge.connections == 1 and running.bridge.published > 10


async def test_demo_publishes_to_a_broker_and_stops_offline(private_broker: EmbeddedBroker):
    address = f"{private_broker.host}:{private_broker.port}"
    assert parse_broker_address(address) == (private_broker.host, private_broker.port)
    async with Recorder(private_broker, "edge_mining/#", "homeassistant/#") as rec:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "edge_mining.cli",
            "demo",
            "--mqtt",
            address,
            "--duration",
            "3",
            "--speed",
            "120",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        try:
            # Generous timeouts: a loaded CI machine may take seconds to import and start.
            await rec.wait_topic("edge_mining/status", "online", timeout=60)
            config = await rec.wait_topic(
                "homeassistant/device/edge_mining_controller/config", timeout=30
            )
            assert (
                config.json()["cmps"]["mode"]["command_topic"] == "edge_mining/controller/mode/set"
            )
            await rec.wait_topic("edge_mining/energy/state", timeout=30)
            assert await asyncio.wait_for(process.wait(), 60) == 0
            await rec.wait_topic("edge_mining/status", "offline", timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
