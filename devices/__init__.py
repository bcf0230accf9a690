"""Programs that run beside the workshop's hardware; nothing here imports the server (`app`)."""
