"""The Dagster side of mnops: resources, the asset factory, checks and sensors. Only this package imports dagster."""
