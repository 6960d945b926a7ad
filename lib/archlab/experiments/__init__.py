"""One module per paper: grids per profile (with expected run times), run functions, CLAIMS and verdicts."""
