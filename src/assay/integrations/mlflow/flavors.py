"""How a model's estimator is saved in MLflow and loaded back to be scored: scikit-learn
estimators with MLflow's `sklearn` flavour; any other object with `predict` (and maybe
`predict_proba`) as a `pyfunc` model wrapping it, so it is still served by
`mlflow.pyfunc.load_model` and re-scored as champion like the others."""

from __future__ import annotations

from typing import Any


def is_sklearn(estimator: Any) -> bool:
    """Whether `estimator` is a scikit-learn estimator (saved with the sklearn flavour).

    Example:
        >>> from sklearn.linear_model import LinearRegression
        >>> is_sklearn(LinearRegression()), is_sklearn(object())
        (True, False)
    """
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return False
    return isinstance(estimator, BaseEstimator)


def log_estimator(estimator: Any, signature: Any, registered_name: str) -> Any:
    """Log `estimator` to the active run as `model` and register it; MLflow's ModelInfo."""
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn

    if is_sklearn(estimator):
        return mlflow.sklearn.log_model(
            estimator,
            name="model",
            signature=signature,
            registered_model_name=registered_name,
            # Named, not inferred: inference loads the model in a subprocess (seconds).
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
            skops_trusted_types=_fitted_here_types(estimator),
        )
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=_wrapped(estimator),
        signature=signature,
        registered_model_name=registered_name,
        pip_requirements=[f"mlflow=={mlflow.__version__}", "cloudpickle"],
    )


def load_estimator(uri: str) -> Any:
    """The estimator saved at `uri` (`models:/name/3`), whichever flavour saved it."""
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import get_model_info

    if "sklearn" in get_model_info(uri).flavors:
        return mlflow.sklearn.load_model(uri)
    return mlflow.pyfunc.load_model(uri).unwrap_python_model().estimator


def _wrapped(estimator: Any) -> Any:
    """A pyfunc model around `estimator`: its `predict` serves; assay scores the inner one.
    The class is made here, where mlflow is imported (the module must not import it)."""
    import mlflow.pyfunc

    base: Any = mlflow.pyfunc.PythonModel

    class EstimatorModel(base):
        def __init__(self, inner: Any) -> None:
            self.estimator = inner

        # Unannotated: MLflow reads predict's type hints as a schema (the signature is given).
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return self.estimator.predict(model_input)

    return EstimatorModel(estimator)


def _fitted_here_types(estimator: Any) -> list[str] | None:
    """The types of `estimator` that skops (MLflow's default format) does not trust by
    default, e.g. HistGradientBoosting's tree predictors. The estimator was fitted in this
    process by the project's own train function, so its types are trusted; MLflow records
    the list in the model's flavor, so loading the version back needs nothing more."""
    try:
        import skops.io
    except ImportError:  # an MLflow without skops pickles instead
        return None
    return list(skops.io.get_untrusted_types(data=skops.io.dumps(estimator))) or None
