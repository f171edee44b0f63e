"""machine-native-ops: the estate as data, resolved, governed and deployed as one Dagster asset graph."""
