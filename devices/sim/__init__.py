"""Simulated welding stations, scan readers and workshop shifts (`python -m devices.simulate`)."""
