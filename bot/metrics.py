"""Prometheus metrics of one process, in a registry the app owns (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter(
            "childpact_inbound_messages",
            "Messages received from members, by channel and result (stored, duplicate, rejected)",
            ["channel", "result"],
            registry=self.registry,
        )
        self.outbound = Counter(
            "childpact_outbound_messages",
            "Send attempts by channel and outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.statuses = Counter(
            "childpact_delivery_statuses",
            "Delivery status reports from the platforms, by channel and status",
            ["channel", "status"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "childpact_outbox_queued",
            "Messages waiting in the outbox, by channel",
            ["channel"],
            registry=self.registry,
        )
        self.pending_inbound = Gauge(
            "childpact_inbound_pending",
            "Inbound messages stored but not yet handled",
            registry=self.registry,
        )
        self.send_latency = Histogram(
            "childpact_send_latency_seconds",
            "From a message entering the outbox to the platform accepting it",
            ["channel"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800),
            registry=self.registry,
        )
        self.handle_latency = Histogram(
            "childpact_handle_latency_seconds",
            "From a member's message being stored to its replies being in the outbox",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
