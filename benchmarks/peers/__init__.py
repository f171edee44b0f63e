"""mnops beside the tools users would pick instead: checkov for policy over IaC, Cloud Custodian for live scans."""
