#pragma once
// Wigner 3j symbols (j1 j2 j3; m1 m2 m3) for integer angular momenta, from Racah's formula evaluated in
// long double. They are computed once, in constructors (the lambda-SOAP coupling coefficients), never per atom.
// Accuracy: ~1e-18 relative for j <= 12 (the orthogonality relations hold to that level, see the tests); the
// alternating sum loses precision slowly as j grows, so the function refuses j > 40.

namespace gapd {

// Returns 0 for m1 + m2 + m3 != 0, |m_k| > j_k or a violated triangle condition.
// Throws std::invalid_argument for a negative j or j > 40.
long double wigner_3j(int j1, int j2, int j3, int m1, int m2, int m3);

}  // namespace gapd
