"""Paper 1's names, in a leaf module that every other module of the package imports (never the package's
``__init__``, which imports them)."""
STEM = "01_gradient_paths"
PAPER = "1"  # the claims table groups by paper number
TITLE = ("Wang, Liao, Yeh: Designing Network Design Strategies Through Gradient Path Analysis "
         "(arXiv 2211.04800)")
