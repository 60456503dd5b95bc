"""Forecast.Solar's public API as the site's solar forecast (``source``)."""
