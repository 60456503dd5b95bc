"""SolarEdge inverters read over Modbus TCP (SunSpec).

``sunspec``: the register map and its decoding; ``source``: the energy source the daemon reads;
``probe``: ``edge-mining probe solaredge``; ``emulator``: a SolarEdge inverter and meter on
loopback Modbus TCP (``edge-mining emulate solaredge``).
"""
