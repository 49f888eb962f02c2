"""Models as datasets of the project: `@assay.model` declares one; `assay run` trains it
when its training data has new rows, evaluates it on a later slice of label time,
registers it in MLflow and moves the `champion` alias only when it wins."""
