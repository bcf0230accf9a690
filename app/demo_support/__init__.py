"""The pieces behind ``python -m app.demo``: ports, private files, the broker, child processes."""
