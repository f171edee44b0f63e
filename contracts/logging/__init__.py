"""Log sinks: CloudWatch log groups, Log Analytics tables, Cloud Logging buckets, a log directory (local)."""
