"""The `aws` provider: S3, SQS, Secrets Manager, CloudWatch Logs and ECS Fargate through boto3.

This package's top level imports nothing from boto3, so the registry can read what it supports without the SDK
installed; `create_adapter` imports it and fails with the install command when it is missing.
"""

PROVIDER = "aws"
SUPPORTED_CONTRACTS = frozenset({"storage/v1", "queue/v1", "secrets/v1", "logging/v1", "compute/v1"})


def create_adapter(**settings):
    from adapters.aws.adapter import AwsAdapter

    return AwsAdapter(**settings)
