"""BraiinsOS and BraiinsOS+ miners, driven through pyasic (gRPC, with the legacy APIs too).

``driver``: the miner driver; ``api`` and ``profile``: the gRPC messages pyasic does not
declare (quick ramping, the efficiency profile); ``probe``: its part of ``edge-mining probe
miner``; ``emulator``: BraiinsOS miners on loopback (gRPC, cgminer API, web, SSH).
"""
