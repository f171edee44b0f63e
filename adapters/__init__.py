"""Provider adapters: one package per provider, each implementing the contracts. Imports `contracts` only."""
