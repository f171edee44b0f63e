"""The `aws` provider: S3, SQS, Secrets Manager, CloudWatch Logs, ECS Fargate and RDS through boto3.

This package's top level imports nothing from boto3, so the registry can read what it supports without the SDK
installed; making an adapter imports it, and fails with the install command when it is missing.
"""

PROVIDER = "aws"
# Lazy import paths (see `adapters.base`): the adapter and its drivers, and so boto3, are imported only when an adapter
# is made.
ADAPTER = ("adapters.aws.adapter", "AwsAdapter")
DRIVERS = {
    "storage/v1": ("adapters.aws.storage", "StorageDriver"),
    "queue/v1": ("adapters.aws.queues", "QueueDriver"),
    "secrets/v1": ("adapters.aws.secretstore", "SecretsDriver"),
    "logging/v1": ("adapters.aws.logsink", "LoggingDriver"),
    "compute/v1": ("adapters.aws.compute", "ComputeDriver"),
    "database/v1": ("adapters.aws.database", "DatabaseDriver"),
}
SUPPORTED_CONTRACTS = frozenset(DRIVERS)
