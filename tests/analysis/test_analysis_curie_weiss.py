#!/usr/bin/python3
"""curie_weiss.py: exact Curie-Weiss data are recovered exactly; with Gaussian noise the true C, Tc, eps_inf
lie within the fitted 1-sigma errors about 68 % of the time; the CLI reads a table and rejects bad ones."""

import os
import tempfile

import numpy as np

import analysis_common as common
import curie_weiss

C_TRUE, TC_TRUE, EI_TRUE = 1.2e5, 390.0, 5.0
T = np.linspace(420.0, 700.0, 8)


def test_exact_data_recovered():
    eps = curie_weiss.curie_weiss(T, C_TRUE, TC_TRUE, EI_TRUE)
    r = curie_weiss.fit(T, eps, 0.01 * eps)
    common.close(r["C"], C_TRUE, 1e-6, "C")
    common.close(r["Tc"], TC_TRUE, 1e-8, "Tc")
    common.close(r["eps_inf"], EI_TRUE, 1e-5, "eps_inf")
    assert r["chi2"] < 1e-8 and r["dof"] == 5
    r2 = curie_weiss.fit(T, eps, 0.01 * eps, fix_eps_inf=EI_TRUE)
    common.close(r2["C"], C_TRUE, 1e-6, "C (fixed eps_inf)")
    assert r2["dof"] == 6 and r2["eps_inf_err"] == 0.0


def test_noisy_data_within_error_bars():
    rng = np.random.default_rng(11)
    exact = curie_weiss.curie_weiss(T, C_TRUE, TC_TRUE, EI_TRUE)
    err = 0.03 * exact
    inside, chi2 = [], []
    for _ in range(300):
        r = curie_weiss.fit(T, exact + err * rng.standard_normal(len(T)), err)
        inside.append([abs(r["C"] - C_TRUE) < r["C_err"], abs(r["Tc"] - TC_TRUE) < r["Tc_err"],
                       abs(r["eps_inf"] - EI_TRUE) < r["eps_inf_err"]])
        chi2.append(r["chi2"] / r["dof"])
    frac = np.mean(inside, axis=0)
    assert np.all((frac > 0.58) & (frac < 0.78)), frac          # 1 sigma: 0.683
    assert 0.8 < np.mean(chi2) < 1.2, np.mean(chi2)


def test_cli_table_and_bad_tables():
    with tempfile.TemporaryDirectory() as d:
        good = os.path.join(d, "eps.dat")
        exact = curie_weiss.curie_weiss(T, C_TRUE, TC_TRUE, EI_TRUE)
        np.savetxt(good, np.column_stack([T, exact, 0.01 * exact]), header="T eps err")
        rc, out, err = common.tool("curie_weiss", "--table", good, "--png", os.path.join(d, "cw.png"))
        assert rc == 0, err
        tc = float(out.split("Tc        =")[1].split()[0])
        assert abs(tc - TC_TRUE) < 1e-3, out
        assert os.path.getsize(os.path.join(d, "cw.png")) > 1000
        bad = os.path.join(d, "bad.dat")
        for content, words in (("", ["no data rows"]), ("400 10\n", ["expected 'T eps err'"]),
                               ("-5 10 1\n400 9 1\n500 8 1\n600 7 1\n", ["temperature", "positive"]),
                               ("400 10 0\n500 9 1\n600 8 1\n700 7 1\n", ["error bar", "positive"]),
                               ("400 10 1\n500 9 1\n", ["need at least 4"])):
            open(bad, "w").write(content)
            common.expect_error("curie_weiss", ["--table", bad], *words)
        common.expect_error("curie_weiss", ["--table", os.path.join(d, "missing.dat")], "missing.dat")


if __name__ == "__main__":
    common.main(globals())
