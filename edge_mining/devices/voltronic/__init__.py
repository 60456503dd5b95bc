"""Voltronic / Axpert inverters speaking PI30 over a serial port or USB HID.

``pi30``: the protocol codec (frames, CRC, replies); ``source``: the transport and the energy
source the daemon reads; ``probe``: ``edge-mining probe inverter``; ``emulator``: a byte-exact
PI30 inverter on a pseudo-terminal (``edge-mining emulate inverter``).
"""
