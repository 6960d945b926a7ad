"""The claim, declared before any run, and its verdict through the shared verdict loop."""
from archlab.claims import Claim
from archlab.outcomes import Regime, directional
from archlab.runs import why_not_judged
from archlab.verdicts import Measured, evaluate

from .meta import PAPER

CONVERGED = Regime("converged", "final training loss", "<", 0.5)
CLAIMS = [Claim("C1", PAPER, "A two-layer MLP classifies the two spirals better than chance.",
                "test accuracy above 50% by at least 10 points, 95% interval over seeds", unit="pp", min_effect=10.0,
                requires=(CONVERGED,), min_effect_source="chosen: a margin no lucky split reaches")]


def _accuracy(c, runs) -> Measured:
    ok = runs.spirals[runs.spirals.status == "ok"]
    return Measured(directional(c, ok.test_acc.to_numpy(), 0.5, scale=100.0),
                    regimes={"converged": ok.train_loss.to_numpy()})


def verdicts(runs, profile) -> list[dict]:
    return evaluate(CLAIMS, {"C1": _accuracy}, runs, profile,
                    cannot_judge=lambda c, r: why_not_judged(r.get("spirals"), "spirals"))
