"""Home Assistant over its REST API: any entity as an energy source or a solar forecast.

``client``: the REST client (entity states in, service calls out) and the sources built on it.
"""
