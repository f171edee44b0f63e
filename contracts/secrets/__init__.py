"""Secrets: Secrets Manager, Key Vault, Secret Manager, a Fernet-encrypted store (local). Values never live in YAML."""
