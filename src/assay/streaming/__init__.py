"""Streaming: Kafka and folder sources, micro-batches into Delta exactly once, event-time
windows with watermarks and a late-data table."""
