"""One module per framework; each maps workload names to ``make(data) -> run``.

``run()`` performs the workload once, starting from the same initial state
every time, and returns its result (NumPy arrays) so that every framework can
be checked against hand-written NumPy.
"""
