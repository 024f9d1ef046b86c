"""The secretariat's JSON API under /api: one router per area, the same permissions as the
dashboard."""
