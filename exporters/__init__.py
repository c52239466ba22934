"""Ways data leaves the daemon: Prometheus metrics, alert notifications, reports,
generated rules. Exporters read the engine's state or store; the engine never
imports them (the daemon wires them in)."""
