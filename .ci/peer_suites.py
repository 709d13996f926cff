#!/usr/bin/env python
"""Run HIPS autograd's own tests of its transforms, of complex numbers, of the Fourier transforms and of NumPy's
functions against microgradnp, through a stand-in of autograd's API.

The tests are taken from autograd's source distribution on the package registry at run time (nothing of
autograd is committed); ``.ci/peers/autograd`` maps autograd's names onto microgradnp's.  Every test must pass
except those listed in ``.ci/peers/autograd_expected_failures.txt``, each with the feature it needs that
microgradnp does not claim; a listed test that passes is reported, so the list stays true.

Usage: ``python .ci/peer_suites.py`` (exit status 1 on a failure that is not listed).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ElementTree

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = "1.9.1"
#: autograd's test files about its transforms (grad, jacobian, hessian, vjp, jvp, containers), its tests of
#: complex numbers and of the Fourier transforms, and its systematic tests of NumPy's functions (each on real
#: and complex inputs), with the helpers they import.
FILES = ("test_wrappers.py", "test_jacobian.py", "test_dict.py", "test_tuple.py", "test_list.py", "test_direct.py",
         "test_complex.py", "test_fft.py", "test_numpy.py", "test_systematic.py", "numpy_utils.py")


def _expected() -> dict:
    found = {}
    with open(os.path.join(HERE, "peers", "autograd_expected_failures.txt")) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                test, reason = (part.strip() for part in line.split(" : ", 1))
                found[test] = reason
    return found


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "-d", tmp, f"autograd=={VERSION}"], check=True)
        with tarfile.open(os.path.join(tmp, f"autograd-{VERSION}.tar.gz")) as tar:
            members = [m for m in tar.getmembers() if re.fullmatch(rf"autograd-{VERSION}/tests/({'|'.join(FILES)})",
                                                                    m.name)]
            tar.extractall(tmp, members=members, filter="data")
        tests = os.path.join(tmp, f"autograd-{VERSION}", "tests")
        report = os.path.join(tmp, "report.xml")
        env = {**os.environ, "PYTHONPATH": os.path.join(HERE, "peers") + os.pathsep + os.environ.get("PYTHONPATH", "")}
        subprocess.run([sys.executable, "-m", "pytest", "-q", "--tb=no", "-p", "no:cacheprovider", "-o", "addopts=",
                        "-W", "ignore", f"--junitxml={report}", "--rootdir", tests, tests], env=env, check=False)
        outcome = {}
        for case in ElementTree.parse(report).iter("testcase"):
            name = f"{case.get('classname').split('.')[-1]}::{case.get('name')}"
            failed = case.find("failure") is not None or case.find("error") is not None
            outcome[name] = "failed" if failed else "skipped" if case.find("skipped") is not None else "passed"
    expected = _expected()
    unexpected = sorted(t for t, o in outcome.items() if o == "failed" and t not in expected)
    stale = sorted(t for t in expected if outcome.get(t, "passed") == "passed")  # passes now, or is gone
    passed = sum(o == "passed" for o in outcome.values())
    print(f"autograd {VERSION}'s tests of transforms, complex numbers, np.fft and NumPy functions against microgradnp: {passed} passed, "
          f"{sum(o == 'failed' for o in outcome.values())} failed ({len(expected)} listed as not claimed), "
          f"of {len(outcome)}")
    for t in stale:
        print(f"  listed as failing but passes now or is gone (take it off the list): {t}")
    for t in unexpected:
        print(f"  FAILED, not listed: {t}")
    return 1 if unexpected or stale else 0


if __name__ == "__main__":
    sys.exit(main())
