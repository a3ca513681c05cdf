"""Import this to register the project's mmaction2/mmengine components (dataset, clip loader, head,
losses, metric, hooks, the CPU bf16 optimizer wrapper). The compat fixes are applied first."""

from tinyactions.core import compat  # noqa: F401  (before any mmaction import)

# isort: split
import mmaction.datasets  # noqa: F401
import mmaction.evaluation  # noqa: F401
import mmaction.models  # noqa: F401  (mmaction's own registrations)

from tinyactions.core import precision
from tinyactions.train import dataset, heads, hooks, losses, val_metric  # noqa: F401  (registrations)

precision.register_optim_wrapper()


def build_model(cfg: dict):
    """Build a model config through mmaction2's registry, outside a Runner."""
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope("mmaction"):
        return MODELS.build(cfg)
