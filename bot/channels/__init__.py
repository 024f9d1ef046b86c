"""The platforms at the edge: each adapter turns its payloads into our messages and sends ours
within its limits; the registry builds the ones the settings turn on."""
