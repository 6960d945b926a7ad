"""The overview's names (a leaf module: the package's other modules import them from here)."""
STEM = "00_overview"
PAPER = "0"
TITLE = "archlab overview: harness check and every paper's verdicts"
