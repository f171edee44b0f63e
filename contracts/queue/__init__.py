"""Message queues: SQS, Azure Storage queues, Pub/Sub, a durable SQLite queue (local)."""
