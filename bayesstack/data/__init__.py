"""The data layer: datasets (features, response, trials), their validation, built-in data."""

from bayesstack._lazy import lazy_exports

_EXPORTS = {
    "Dataset": ".dataset",
    "from_csv": ".dataset",
    "from_frame": ".dataset",
    "validate": ".dataset",
    "validate_trials": ".dataset",
    "Preprocessing": ".preprocessing",
    "STANDARDIZE": ".preprocessing",
    "DEFAULT_DATASET": ".builtin",
    "DatasetInfo": ".builtin",
    "dataset_info": ".builtin",
    "list_datasets": ".builtin",
    "load_dataset": ".builtin",
    "teacher_params": ".builtin",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
