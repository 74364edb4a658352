"""gaussian_theory: Section 3 of Xu et al. (ICML 2021), exact and checked.

Closed forms (Theorems 1-3), exact errors of any linear classifier, numerical optima, Monte
Carlo and the paper's claims as predicates. The Figure 2 simulation (torch) lives in
:mod:`gaussian_theory.simulation` and the figure sweeps in :mod:`gaussian_theory.sweeps`;
neither is imported here, so the theory core never imports torch.
"""

from .claims import *  # noqa: F401,F403
from .closed_form import *  # noqa: F401,F403
from .linear import class_errors, class_errors_probit  # noqa: F401
from .monte_carlo import monte_carlo_class_errors, sample_mixture, worst_case_delta  # noqa: F401
from .numerical import average_error, numerical_b, numerical_classifier  # noqa: F401
