"""The platforms' webhooks: verify, parse, store, then acknowledge (Telegram and Twilio
WhatsApp)."""
