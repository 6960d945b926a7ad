"""The toy paper's names, in a leaf module its other modules import (never the package's ``__init__``)."""
STEM = "99_toy_paper"
PAPER = "9"
TITLE = "A toy paper: an MLP learns the two spirals"
