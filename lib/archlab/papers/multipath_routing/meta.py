"""Paper 3's names, in a leaf module the package's other modules import (never the package's ``__init__``)."""
STEM = "03_multipath_routing"
PAPER = "3"  # the claims table groups by paper number
TITLE = ("Tissera, Wijesinghe, Vithanage, Alex Xavier, Fernando, Rodrigo: End-to-End Data-Dependent Routing in "
         "Multi-Path Neural Networks (Neural Computing and Applications 35(17), 2023; arXiv 2107.02450)")
