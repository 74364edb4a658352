"""gaussian_theory: Section 3 of Xu et al. (ICML 2021), exact and checked."""
from .closed_form import *  # noqa: F401,F403
from .linear import class_errors, class_errors_probit  # noqa: F401
from .numerical import numerical_b, numerical_classifier, average_error  # noqa: F401
from .monte_carlo import monte_carlo_class_errors, sample_mixture, worst_case_delta  # noqa: F401
from .claims import *  # noqa: F401,F403
