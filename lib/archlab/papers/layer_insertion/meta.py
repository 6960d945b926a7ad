"""Paper 4's names, in a leaf module so that every module of the package can import them without importing the
package (``__init__`` imports this first)."""
STEM = "04_layer_insertion"
PAPER = "4"  # the claims table groups by paper number
TITLE = ("Kreis, Herberg, Köhne, Schiela, Herzog: Sensitivity-Based Layer Insertion for Residual and Feedforward "
         "Neural Networks (arXiv 2311.15995 v1; v2 \"SensLI\", 2025)")
