"""Several threads running backward into one shared parameter add up like one thread."""

import sys
import threading

import numpy as np

import microgradnp as mg


def test_threaded_backward_into_a_shared_parameter_loses_nothing():
    rng = np.random.default_rng(0)
    w = mg.tensor(rng.standard_normal((16, 16)), requires_grad=True)
    xs = [rng.standard_normal((4, 16)) for _ in range(8)]

    def contribution(x):
        mg.tanh(mg.tensor(x) @ w).sum().backward()

    for x in xs:
        contribution(x)
    expected = w.grad.copy()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: contention in every store
    try:
        for _ in range(40):  # each round starts from no gradient: the first stores race the most
            w.grad = None
            barrier = threading.Barrier(len(xs))

            def work(x, barrier=barrier):
                barrier.wait()
                contribution(x)

            threads = [threading.Thread(target=work, args=(x,)) for x in xs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            np.testing.assert_allclose(w.grad, expected, rtol=1e-10)
    finally:
        sys.setswitchinterval(interval)
