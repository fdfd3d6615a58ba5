"""One module per finding kind; each documents its rule in its docstring and exposes
``detect(ctx) -> list[Candidate]``."""
