"""Every run as a benchmark / dry-run job."""
from archlab.data import dataset_info
from archlab.preflight import datasets_of

from .grid import configs, make_config


def jobs(profile: str = "paper", **params) -> list[dict]:
    info = dataset_info("spirals")
    return [dict(model=c["model"], kwargs={**c["model_kwargs"], "num_classes": info["classes"],
                                           "input_shape": info["shape"]}, shape=info["shape"], dataset=c["dataset"],
                 batch_size=c["train"]["batch_size"], epochs=c["train"]["epochs"])
            for c in configs(make_config(profile=profile, **params))]


def datasets(profile: str = "paper", **params) -> dict[str, bool]:
    """``dataset -> optional`` of ``jobs(profile, **params)``, for the runner's data preflight."""
    return datasets_of(jobs(profile, **params))
