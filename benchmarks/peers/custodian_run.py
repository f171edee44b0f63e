"""Cloud Custodian's `custodian` command with the two changes it needs to scan SQS on a local endpoint; run by the
Python of Cloud Custodian's own venv (it imports c7n, never this project). `CHANGES` is printed by the benchmark.

Everything else is c7n as shipped: S3 reaches the endpoint through AWS_ENDPOINT_URL on its own.
"""

from __future__ import annotations

import sys

CHANGES = (
    "c7n.resources.sqs.SQS.get_client: the client is made by boto3's own endpoint resolution (which honours "
    "AWS_ENDPOINT_URL) instead of the hard-coded https://sqs.<region>.amazonaws.com",
    "c7n.tags.universal_augment (as imported by c7n.resources.sqs): each get_resources call over <= 100 ARNs follows "
    "PaginationToken to the last page instead of reading the first page only (moto pages at 50 ARNs)",
)


def patch() -> None:
    from c7n import utils
    from c7n.resources import sqs

    def get_client(self):  # type: ignore[no-untyped-def]
        return utils.local_session(self.session_factory).client("sqs")

    def universal_augment(self, resources):  # type: ignore[no-untyped-def]
        # c7n's own body, but each chunk's answer read page by page.
        if not resources:
            return resources
        region = utils.get_resource_tagging_region(self.resource_type, self.region)
        client = utils.local_session(self.session_factory).client("resourcegroupstaggingapi", region_name=region)
        rfetch = [r for r in resources if "Tags" not in r]
        for arn_resource_set in utils.chunks(zip(self.get_arns(rfetch), rfetch, strict=True), 100):
            arn_resource_map = dict(arn_resource_set)
            resource_tag_map = {}
            arguments = {"ResourceARNList": list(arn_resource_map)}
            while True:
                page = client.get_resources(**arguments)
                resource_tag_map.update({r["ResourceARN"]: r["Tags"] for r in page.get("ResourceTagMappingList", ())})
                if not page.get("PaginationToken"):
                    break
                arguments["PaginationToken"] = page["PaginationToken"]
            for arn, r in arn_resource_map.items():
                r["Tags"] = resource_tag_map.get(arn, [])
        return resources

    sqs.SQS.get_client = get_client
    sqs.universal_augment = universal_augment


def main() -> None:
    if "--changes" in sys.argv:
        print("\n".join(CHANGES))
        return
    patch()
    from c7n.cli import main as custodian

    sys.argv[0] = "custodian"
    custodian()


if __name__ == "__main__":
    main()
