"""Tests of the HTTP application: platform webhooks, the API, the dashboard, the web chat, health."""
