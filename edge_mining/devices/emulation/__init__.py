"""What every miner emulator shares: the machine's dynamics, faults, loopback listeners and
fleets, and the framing of the protocols several firmwares speak (cgminer's API on 4028, a
small HTTP/1.1 server). Each family's own emulator lives in its device package."""
