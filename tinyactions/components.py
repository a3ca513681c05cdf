"""Import this to register the project's mmaction2/mmengine components (dataset, clip loader, head,
losses, metric, hooks, the CPU bf16 optimizer wrapper). The compat fixes are applied first."""

from . import compat  # noqa: F401  (before any mmaction import)

# isort: split
import mmaction.datasets  # noqa: F401
import mmaction.evaluation  # noqa: F401
import mmaction.models  # noqa: F401  (mmaction's own registrations)

from . import dataset, evaluation, heads, hooks, losses, precision  # noqa: F401

precision.register_optim_wrapper()


def build_model(cfg: dict):
    """Build a model config through mmaction2's registry, outside a Runner."""
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope("mmaction"):
        return MODELS.build(cfg)
