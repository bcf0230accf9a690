"""The MQTT transport: the welding stations' adapter in front of the ingest core."""
