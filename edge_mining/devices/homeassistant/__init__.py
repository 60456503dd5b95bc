"""Home Assistant over its REST API: any entity as an energy source or a solar forecast.

``client``: the REST client (entity states in, service calls out); ``source``: the energy source
from any entities; ``forecast``: the solar forecast from the Forecast.Solar or Solcast
integrations' sensors.
"""
