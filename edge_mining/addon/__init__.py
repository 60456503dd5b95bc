"""Inside the Home Assistant add-on: options.json into the site model, Supervisor services."""
