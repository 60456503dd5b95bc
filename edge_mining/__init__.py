"""Edge Mining: surplus energy into bitcoin mining revenue and useful heat."""

__version__ = "0.1.0"
