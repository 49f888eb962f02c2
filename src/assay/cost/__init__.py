"""Cost: what runs use (CPU, memory, bytes) and store, turned into money by assay.yaml's
`cost:` prices, attributed to owners, teams and datasets, with budgets that alert."""
