"""optim.minimize and optim.least_squares, the bridges to scipy.optimize."""

import numpy as np
import pytest
import scipy.optimize

import microgradnp as mg

# A positive definite quadratic, 1/2 w A w^T - w . B, minimised at w = A^-1 B.
A = np.array([[3.0, 0.5], [0.5, 1.0]])
B = np.array([1.0, -2.0])


@pytest.mark.parametrize("method", ["CG", "L-BFGS-B", "BFGS"])
def test_minimize_finds_the_quadratic_minimum(method):
    w = mg.tensor([[1.0, 1.0]], requires_grad=True)  # a 2-D parameter: flattened and restored
    b = mg.tensor([0.0], requires_grad=True)
    seen = []
    result = mg.optim.minimize(
        lambda: 0.5 * ((w @ mg.tensor(A)) * w).sum() - (w * mg.tensor(B)).sum() + (b - 3.0) ** 2,
        [w, b], method=method, callback=lambda it, loss: seen.append((it, loss)), tol=1e-12,
    )
    assert result.success
    np.testing.assert_allclose(w.data.ravel(), np.linalg.solve(A, B), rtol=1e-6)
    np.testing.assert_allclose(b.data, [3.0], rtol=1e-6)
    assert w.shape == (1, 2) and seen and seen[0][0] == 1 and seen[-1][0] == len(seen)
    assert seen[-1][1] <= seen[0][1]


def test_minimize_respects_maxiter_and_returns_scipys_result():
    import scipy.optimize

    w = mg.tensor(np.full(5, 3.0), requires_grad=True)
    result = mg.optim.minimize(lambda: (mg.cos(w) + 0.1 * w * w).sum(), [w], method="CG", maxiter=2)
    assert isinstance(result, scipy.optimize.OptimizeResult) and result.nit <= 2
    np.testing.assert_array_equal(w.data, result.x)
    with pytest.raises(ValueError, match="one-element"):
        mg.optim.minimize(lambda: w * 2, [w])


def _rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


@pytest.mark.parametrize("method", ["Newton-CG", "trust-ncg", "trust-krylov", "trust-constr", "dogleg", "trust-exact"])
def test_second_order_methods_get_exact_hessians(method):
    x = mg.tensor([-1.2, 1.0, 0.5], requires_grad=True)
    result = mg.optim.minimize(lambda: _rosenbrock(x), [x], method=method)
    assert result.success
    np.testing.assert_allclose(x.data, [1.0, 1.0, 1.0], atol=1e-5)
    # exact second derivatives: far fewer iterations than a finite-difference Hessian would allow
    assert result.nit < 200


def test_the_hessian_given_to_scipy_is_exact():
    x0 = np.array([-1.2, 1.0, 0.5])
    seen = {}

    def spy(fun, x, **kwargs):
        seen["hess"] = kwargs["hess"](x0)
        seen["hessp"] = kwargs["hessp"](x0, np.array([1.0, -2.0, 0.5])) if "hessp" in kwargs else None
        return scipy.optimize.OptimizeResult(x=x, success=True)

    x = mg.tensor(x0, requires_grad=True)
    original = scipy.optimize.minimize
    try:
        scipy.optimize.minimize = lambda fun, x, **kw: spy(fun, x, **kw)
        mg.optim.minimize(lambda: _rosenbrock(x), [x], method="dogleg")
    finally:
        scipy.optimize.minimize = original
    np.testing.assert_allclose(seen["hess"], scipy.optimize.rosen_hess(x0), rtol=1e-13)


def test_hessian_products_skip_unused_parameters_and_follow_the_point():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    unused = mg.tensor([5.0], requires_grad=True)
    result = mg.optim.minimize(lambda: (a ** 4).sum() + (a[0] * a[1]), [a, unused], method="Newton-CG")
    assert result.success and unused.item() == 5.0
    assert float(np.abs(result.jac).max()) < 1e-4


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev", "auto"])
def test_least_squares_fits_an_exponential_decay(jac):
    t = np.linspace(0.0, 2.0, 30)
    y = 3.0 * np.exp(-1.5 * t) + 0.25
    a = mg.tensor(1.0, requires_grad=True)
    k = mg.tensor([0.5], requires_grad=True)
    c = mg.tensor(0.0, requires_grad=True)
    result = mg.optim.least_squares(lambda: a * mg.exp(-k * t) + c - y, [a, k, c], jac=jac)
    assert result.success and result.cost < 1e-20
    np.testing.assert_allclose([a.item(), k.item(), c.item()], [3.0, 1.5, 0.25], rtol=1e-8)
    # the Jacobian SciPy got is exact: compare it with the closed form at the solution
    J = np.stack([np.exp(-1.5 * t), -3.0 * t * np.exp(-1.5 * t), np.ones_like(t)], axis=1)
    np.testing.assert_allclose(result.jac, J, rtol=1e-7, atol=1e-9)


def test_least_squares_jacobians_by_both_modes_agree_on_a_wide_problem():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 8))
    w = mg.tensor(rng.standard_normal(8), requires_grad=True)
    results = {}
    for jac in ("jacfwd", "jacrev"):
        w.data[...] = 0.1
        results[jac] = mg.optim.least_squares(lambda: mg.tanh(A @ w) - 0.5, [w], jac=jac, max_nfev=3)
    np.testing.assert_allclose(results["jacfwd"].jac, results["jacrev"].jac, rtol=1e-12)


def test_least_squares_refuses_bad_arguments():
    w = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="jac must be"):
        mg.optim.least_squares(lambda: w - 1, [w], jac="2-point")
    with pytest.raises(TypeError, match="parameter 0"):
        mg.optim.least_squares(lambda: w - 1, [mg.tensor([1.0])])
    with pytest.raises(ValueError, match="residuals"):
        mg.optim.least_squares(lambda: 1.0, [w])
