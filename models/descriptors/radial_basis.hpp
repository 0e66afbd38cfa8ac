#pragma once
// Orthonormalized GTO radial integrals of librascal's SphericalInvariants (GTO basis):
//   M(r) = T Q(r),  nmax x (lmax+1),  T = S^(-1/2) diag(N_n/4)
// with Q_nl(r) the Gaussian-density/GTO overlap written with 1F1 (docs/radial_basis.md, and the "Maths"
// section of the librascal reference README). Three evaluation modes, see RadialMode.

#include "models/descriptors/soap_hypers.hpp"

#include <Eigen/Core>
#include <vector>

namespace gapd {

class RadialBasis {
public:
    // Throws std::invalid_argument for nmax < 1, lmax < 0, rc <= 0, sigma <= 0, and for
    // LibrascalSpline without a positive hypers.librascal_spline_accuracy.
    RadialBasis(const SoapHypers& hypers, RadialMode mode);

    int max_radial() const { return nmax_; }
    int max_angular() const { return lmax_; }
    RadialMode mode() const { return mode_; }

    // M_nl(r) for n < nmax, l <= lmax to values[l*nmax + n], d/dr to derivatives[l*nmax + n]
    // (derivatives may be nullptr). Intended for 0 <= r <= cutoff; the spline modes extrapolate their
    // end polynomial slightly outside (LibrascalSpline below 1e-5, as librascal does). Safe to call
    // concurrently. The spline modes never allocate; Exact calls Boost's 1F1 2 nmax (lmax+1) times
    // (~60 us for nmax 8, lmax 6) and is meant as the reference.
    void compute(double r, double* values, double* derivatives) const;

    // Asks the cache for what compute(r, ...) will read (Spline mode: the interval's coefficients, 2.7 KB at nmax
    // 8, lmax 6, from a table larger than L2). Called for a batch of pairs before their harmonics, it hides the load
    // latency. No effect on values.
    void prefetch(double r) const;

    // The centre's own contribution M_n0(0), n < nmax. librascal uses the exact closed form
    // T Gamma((n+3)/2)/Gamma(3/2) (a+b_n)^(-(n+3)/2) in every mode (never the spline), and so do we.
    void centre_values(double* values_n) const;

    // Overlap S of the normalized primitive GTOs and T = S^(-1/2) diag(N_n/4) (both nmax x nmax).
    const Eigen::MatrixXd& overlap() const { return overlap_; }
    const Eigen::MatrixXd& transform() const { return transform_; }

    // Number of spline nodes (0 in Exact mode). For LibrascalSpline this is librascal's grid size.
    int spline_nodes() const { return n_nodes_; }

private:
    // Exact M, dM/dr, d2M/dr2 at r (any pointer may be nullptr), accumulated through T.
    void exact(double r, double* m, double* dm, double* d2m) const;
    void build_spline();
    void build_librascal_spline(double accuracy);
    // The Spline mode's interval holding r: its 6 nfun coefficients, and t = (r - r_i)/h in it.
    const double* spline_interval(double r, double& t) const;
    void eval_spline(double r, double* values, double* derivatives) const;
    void eval_librascal_spline(double r, double* values, double* derivatives) const;

    int nmax_ = 0;
    int lmax_ = 0;
    int nfun_ = 0;  // nmax * (lmax+1)
    RadialMode mode_;
    double rc_ = 0.0;
    double a_ = 0.0;                // 1/(2 sigma^2)
    std::vector<double> kappa_;     // a^2/(a+b_n), n < nmax
    std::vector<double> prefactor_; // a^l (a+b_n)^(-(n+l+3)/2) Gamma((n+l+3)/2)/Gamma(l+3/2), [l*nmax+n]
    Eigen::MatrixXd overlap_;
    Eigen::MatrixXd transform_;
    std::vector<double> centre_;    // M_n0(0)

    int n_nodes_ = 0;
    double h_ = 0.0;
    double inv_h_ = 0.0;
    // Spline: quintic Hermite, 6 monomial coefficients (in t = (r - r_i)/h) per function and interval,
    // stored [(interval*6 + k)*nfun + f] so one r touches one contiguous block.
    // LibrascalSpline: node values and second derivatives * h^2/6, both [node*nfun + f].
    std::vector<double> coeffs_;
    std::vector<double> lr_values_;
    std::vector<double> lr_curv_;
    std::vector<double> lr_grid_;   // librascal's node positions (a = (x_{j+1} - x)/h uses them)
    double lr_x1_ = 0.0;
    double lr_points_per_unit_ = 0.0;
};

}  // namespace gapd
