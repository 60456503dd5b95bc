"""The web panel: an aiohttp server in the daemon's event loop (``server.py``), the JSON it
serves (``documents.py``), the 48-hour history behind its charts (``history.py``) and the
static page (``static/``, with uPlot vendored from npm)."""
