"""Training pipelines, one module per model kind."""
