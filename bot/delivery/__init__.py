"""The outbound pipeline: the sender that claims outbox rows and hands them to the channels, and
the pacing that keeps each platform's limits across processes."""
