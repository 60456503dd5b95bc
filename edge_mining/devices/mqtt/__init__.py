"""Devices that publish to MQTT themselves (OpenDTU, Shelly, Tasmota, Victron, zigbee2mqtt).

``topics``: one connection following a few topics, shared by the drivers that read MQTT;
``source``: the generic MQTT energy source. (The daemon's own MQTT bridge to Home Assistant is
``edge_mining.mqtt``, not this.)
"""
