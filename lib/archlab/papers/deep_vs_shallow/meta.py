"""Paper 2's names: a leaf module, so every module of the package imports them from here, never from ``__init__``."""
STEM = "02_deep_vs_shallow"
PAPER = "2"  # the claims table groups by paper number
TITLE = ("Bermeitinger, Hrycej, Handschuh: Make Deep Networks Shallow Again (KDIR 2023, "
         "DOI 10.5220/0012203800003598, arXiv 2309.08414)")
