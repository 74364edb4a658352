"""Hypothesis strategies for the Gaussian model's parameters."""

from hypothesis import strategies as st

finite = dict(allow_nan=False, allow_infinity=False)

d_s = st.integers(min_value=1, max_value=500)
K_s = st.floats(min_value=1.001, max_value=50.0, **finite)
sigma_s = st.floats(min_value=0.05, max_value=20.0, **finite)
eta_s = st.floats(min_value=0.01, max_value=10.0, **finite)
frac_s = st.floats(min_value=0.01, max_value=0.99, **finite)


@st.composite
def model(draw):
    """(d, K, sigma, eta) of D."""
    return draw(d_s), draw(K_s), draw(sigma_s), draw(eta_s)


@st.composite
def robust_model(draw):
    """(d, K, sigma, eta, eps) with 0 < eps < eta."""
    d, K, sigma, eta = draw(model())
    return d, K, sigma, eta, eta * draw(frac_s)


@st.composite
def dprime_model(draw, max_m=5000):
    """(d, K, sigma, eta, eps, m, gamma) of D' with 0 < gamma < eps < eta."""
    d, K, sigma, eta, eps = draw(robust_model())
    m = draw(st.integers(min_value=1, max_value=max_m))
    return d, K, sigma, eta, eps, m, eps * draw(frac_s)
