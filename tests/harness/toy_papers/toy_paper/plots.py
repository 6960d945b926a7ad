"""Figures."""
import matplotlib.pyplot as plt


def accuracy(runs):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(runs.seed.astype(str), runs.test_acc)
    ax.set(xlabel="seed", ylabel="test accuracy")
    return fig
