"""The leaderboard's names (a leaf module: every other module of the package imports them from here), and the
paper it reuses: paper 4's sensitivity decides the SensLI entry's insertion (``growth``)."""
STEM = "05_leaderboard"
PAPER = "5"  # the claims table groups by notebook number; each claim names the paper whose design it tests
TITLE = ("archlab leaderboard: the designs of papers 1-4 (Wang et al. arXiv 2211.04800; Bermeitinger et al. "
         "arXiv 2309.08414; Tissera et al. arXiv 2107.02450; Kreis et al. arXiv 2311.15995) at equal parameter "
         "budgets on CIFAR-10")
USES = ("layer_insertion",)
