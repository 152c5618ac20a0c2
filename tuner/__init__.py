"""Studies and comparisons of BNN optimizers: Ax adapter, scheduler, Ray dispatch, SQL storage, analysis."""
