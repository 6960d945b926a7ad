"""Paper 4's CNN variant (E5b): the op22 norm, the exact sensitivity-pass FLOPs, the cnn study and its verdicts."""
import pytest
import torch
import torch.nn.functional as F

from archlab import create_model
from archlab.papers.layer_insertion.loop import FlopMeter
from archlab.papers.layer_insertion.sensitivity import op_norm_sq, sensitivities, sensitivity, virtual_gradients


def conv_operator_matrix(kernel, n):
    """The (out*n*n, in*n*n) matrix of a 3x3 conv on n x n inputs, built by applying it to every basis image.
    Circular padding: that operator is what the FFT theory (Sedghi et al. 2019) describes exactly; the net's zero
    padding differs only at the borders."""
    c_in = kernel.shape[1]
    basis = torch.eye(c_in * n * n, dtype=kernel.dtype).view(-1, c_in, n, n)
    out = F.conv2d(F.pad(basis, (1, 1, 1, 1), mode="circular"), kernel)
    return out.flatten(1).T


def test_op22_by_fft_is_the_squared_largest_singular_value_of_the_conv_operator():
    torch.manual_seed(0)
    for c_out, c_in, n in ((3, 2, 5), (4, 4, 6), (2, 3, 3)):
        k = torch.randn(c_out, c_in, 3, 3, dtype=torch.float64)
        explicit = torch.linalg.matrix_norm(conv_operator_matrix(k, n), ord=2) ** 2
        assert torch.isclose(op_norm_sq(k, (n, n)), explicit, rtol=1e-10)
    w = torch.randn(5, 4, dtype=torch.float64)
    assert torch.isclose(op_norm_sq(w), torch.linalg.svdvals(w)[0] ** 2)
    with pytest.raises(ValueError, match="input size"):
        op_norm_sq(k, (2, 2))


def test_vgg_sensitivities_both_norms_and_the_input_sizes():
    torch.manual_seed(1)
    m = create_model("growing_vgg", widths=(4, 8, 8), input_shape=(3, 16, 16)).double()
    x, y = torch.randn(8, 3, 16, 16, dtype=torch.float64), torch.randint(10, (8,))
    grads, sizes, _ = virtual_gradients(m, (x, y))
    assert sizes == [(16, 16), (8, 8), (4, 4)] and [g.shape[0] for g in grads] == [4, 8, 8]
    op22, fro = sensitivities(m, (x, y), norm="op22"), sensitivities(m, (x, y))
    assert torch.equal(fro, sensitivity(grads, sizes, "fro")) and (op22 > 0).all()
    # Per frequency ||P||_2 <= sum of the 9 taps' norms <= 3 ||G||_F; Parseval: the frequencies' ||P||_F^2 average
    # ||G||_F^2, and ||P||_2^2 >= ||P||_F^2 / channels. So ||G||_F^2 / channels <= op22 <= 9 ||G||_F^2.
    assert all(f / g.shape[0] <= o <= 9 * f for o, f, g in zip(op22, fro, grads))
    with pytest.raises(ValueError, match="op22"):
        sensitivities(m, (x, y), norm="spectral")


def test_sensitivity_pass_flops_are_exact():
    """Extended net, per image: forward F + 3C; backward only what the virtual kernels need: their weight grads
    (3C) and input grads back to the first candidate (head, MLP, conv3, candidate 2, conv2, candidate 1)."""
    torch.manual_seed(0)
    m = create_model("growing_vgg")
    x, y = torch.randn(1, 3, 32, 32), torch.zeros(1, dtype=torch.long)
    meter = FlopMeter()
    with meter.count():
        virtual_gradients(m, (x, y))
    base, cand, conv23, mlp = 83_642_416, 75_497_472, 37_748_736, 2 * (4096 * 500 + 500 * 500 + 500 * 10)
    assert meter.total == (base + 3 * cand) + 3 * cand + (2 * cand + 2 * conv23 + mlp)


def test_cnn_study_smoke_end_to_end(store):
    from archlab.papers import layer_insertion as P
    from archlab.papers.layer_insertion import analysis, analysis_cnn

    runs = P.run(P.make_config(profile="smoke", studies=["cnn"]), store=store)
    df = runs.cnn
    assert (df["status"] == "ok").all() and sorted(df["method"].unique()) == ["large", "min", "sensli", "small"]
    for r in df[df["method"].isin(["sensli", "min"])].itertuples():
        ins = r.result["insertions"][0]
        assert ins["norm"] == "op22" and len(ins["sensitivities"]) == len(ins["sensitivities_fro"]) == 3
        # Dirac candidates are exact identities (0.0 here); a float32 conv algorithm that rounds (Winograd) errs by
        # at most ~K u = 72 * 6e-8 ~ 4e-6 relative per activation; a candidate that is not the identity moves the
        # loss by O(0.1). 1e-4 separates the two on any machine.
        assert abs(ins["loss_jump"]) < 1e-4 and r.position == ins["position"]
        assert len(r.result["evals"]) == 7 and r.result["evals"][-1]["epoch"] == 6
    li_, small = (df[(df["method"] == m) & (df["seed"] == 0)].iloc[0].result for m in ("sensli", "small"))
    n = 3 * 256 // 32 // 4  # log windows (4 steps) before the insertion after 3 epochs of 8 steps
    assert li_["curve"]["loss"][:n] == small["curve"]["loss"][:n], "same init and data until insertion"
    assert li_["flops"] > small["flops"]
    rows = {v["id"]: v for v in P.verdicts(runs, "smoke")}
    assert rows["C1"]["verdict"] == "not run" and "study fnn has no runs in this profile" in rows["C1"]["note"]
    assert rows["C14"]["regime_ok"] is not None, "6 epochs give the convergence check enough evaluations"
    frame = analysis.runs_frame(runs)
    assert set(analysis_cnn.cnn_table(frame)["position"]) <= {0, 1, 2}
    assert (analysis_cnn.cnn_cost_table(frame)["target_rule"] == analysis_cnn.BIG_LEVEL).all()
