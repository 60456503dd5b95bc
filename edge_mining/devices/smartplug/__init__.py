"""A miner behind a smart plug, switched through Home Assistant or MQTT (``driver``)."""
