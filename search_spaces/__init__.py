"""Search spaces as data: the tuned parameters of each BNN optimizer, their bounds and scales, and the
latent-weight to filter mapping of Quist, Li and van Gemert (ICLR 2023).

Built-ins (paper Table 1): ``latent`` (6 tuned hyperparameters), ``filter`` (2: alpha, gamma) and ``bop``.
Register another with :func:`register_space`; the tuner looks spaces up by name with :func:`get_space`;
:func:`sample_point` draws a uniformly random point of a space.
"""

from search_spaces._builtin import BOP_SPACE, FILTER_SPACE, LATENT_MATCHED_SPACE, LATENT_SPACE
from search_spaces._mapping import latent_to_filter
from search_spaces._parameters import ChoiceParameter, Parameter, RangeParameter
from search_spaces._registry import (
    UnknownSpaceError,
    get_space,
    list_spaces,
    register_space,
    unregister_space,
)
from search_spaces._sampling import sample_point
from search_spaces._space import SearchSpace, TrialArguments

__all__ = [
    "BOP_SPACE",
    "FILTER_SPACE",
    "LATENT_MATCHED_SPACE",
    "LATENT_SPACE",
    "ChoiceParameter",
    "Parameter",
    "RangeParameter",
    "SearchSpace",
    "TrialArguments",
    "UnknownSpaceError",
    "get_space",
    "latent_to_filter",
    "list_spaces",
    "register_space",
    "sample_point",
    "unregister_space",
]
