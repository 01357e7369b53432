"""IAM policy documents: model, evaluation, synthesis, packing, lint and renderers."""
