#include "models/descriptors/power_spectrum.hpp"

#include "models/descriptors/radial_dispatch.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gapd {

namespace {

// P = sum over `rows` (the 2l+1 values of m) of ca[row]^T cb[row], rows of length n (NT = n or 0). Every
// update is a broadcast times a row (Eigen SIMD), so no loop carries a serial reduction.
template <int NT>
void outer_products(const double* ca, const double* cb, int rows, int n_runtime, RadialSquare<NT>& P) {
    const int N = NT ? NT : n_runtime;
    P.setZero(N, N);
    for (int r = 0; r < rows; ++r) {
        const RadialRow<NT> rb(cb + r * N, N);
        for (int n1 = 0; n1 < N; ++n1) P.row(n1) += ca[r * N + n1] * rb.transpose();
    }
}

// Adjoint of outer_products: da[r][n1] += sum_n2 H[n1][n2] cb[r][n2]; db[r][n2] += sum_n1 H[n1][n2] ca[r][n1].
// Ht = H^T, so both are sums of rows scaled by coefficients.
template <int NT>
void outer_products_adjoint(const double* ca, const double* cb, const RadialSquare<NT>& H, const RadialSquare<NT>& Ht,
                            int rows, int n_runtime, double* da, double* db) {
    const int N = NT ? NT : n_runtime;
    for (int r = 0; r < rows; ++r) {
        RadialVector<NT> acc_a = RadialVector<NT>::Zero(N), acc_b = RadialVector<NT>::Zero(N);
        for (int n = 0; n < N; ++n) {
            acc_a += cb[r * N + n] * Ht.row(n).transpose();
            acc_b += ca[r * N + n] * H.row(n).transpose();
        }
        MutableRadialRow<NT>(da + r * N, N) += acc_a;
        MutableRadialRow<NT>(db + r * N, N) += acc_b;
    }
}

// The same for ca = cb and a symmetric H (same-species keys): both terms of outer_products_adjoint equal H c,
// so d[r] += 2 H c[r] does half the work.
template <int NT>
void symmetric_outer_products_adjoint(const double* c, const RadialSquare<NT>& H, int rows, int n_runtime, double* d) {
    const int N = NT ? NT : n_runtime;
    for (int r = 0; r < rows; ++r) {
        RadialVector<NT> acc = RadialVector<NT>::Zero(N);
        for (int n = 0; n < N; ++n) acc += c[r * N + n] * H.row(n).transpose();
        MutableRadialRow<NT>(d + r * N, N) += 2.0 * acc;
    }
}

}  // namespace

int power_spectrum_size(const SoapHypers& h, PowerSpectrumLayout layout) {
    if (layout == PowerSpectrumLayout::Full) return power_spectrum_size(h);
    const int ns = static_cast<int>(h.species.size()), nmax = h.max_radial, L = h.max_angular + 1;
    const int same = ns, cross = ns * (ns - 1) / 2;
    return (same * nmax * (nmax + 1) / 2 + cross * nmax * nmax) * L;
}

PowerSpectrum::PowerSpectrum(const SoapHypers& h, PowerSpectrumLayout layout)
    : nspecies_(static_cast<int>(h.species.size())),
      nmax_(h.max_radial),
      lmax_(h.max_angular),
      nlm_((h.max_angular + 1) * (h.max_angular + 1)),
      size_(power_spectrum_size(h, layout)),
      normalize_(h.normalize),
      layout_(layout) {
    if (nmax_ > kMaxRadial) throw std::invalid_argument("power spectrum: max_radial above 32 is not supported");
    for (int l = 0; l <= lmax_; ++l) l_factor_.push_back(1.0 / std::sqrt(2.0 * l + 1.0));
    int offset = 0;
    const int L = lmax_ + 1;
    for (int a = 0; a < nspecies_; ++a)
        for (int b = a; b < nspecies_; ++b) {
            const bool compressed = (a == b) && layout == PowerSpectrumLayout::Compressed;
            keys_.push_back({a, b, offset, compressed});
            offset += (compressed ? nmax_ * (nmax_ + 1) / 2 : nmax_ * nmax_) * L;
        }
}

PowerSpectrum::PowerSpectrum(const SoapHypers& h, const std::vector<int>& selection, const std::vector<double>& scales)
    : PowerSpectrum(h, PowerSpectrumLayout::Compressed) {
    if (!scales.empty() && scales.size() != selection.size())
        throw std::invalid_argument("feature selection: " + std::to_string(scales.size()) + " scales for " +
                                    std::to_string(selection.size()) + " selected features");
    for (std::size_t q = 0; q < scales.size(); ++q)
        if (!(std::isfinite(scales[q]) && scales[q] > 0))
            throw std::invalid_argument("feature selection: scale of entry " + std::to_string(q) +
                                        " must be positive and finite");
    if (selection.empty()) return;
    const int L = lmax_ + 1, N = nmax_;
    std::vector<char> seen(size_, 0);
    for (std::size_t q = 0; q < selection.size(); ++q) {
        const int idx = selection[q];
        if (idx < 0 || idx >= size_)
            throw std::invalid_argument("feature selection: index " + std::to_string(idx) + " (entry " +
                                        std::to_string(q) + ") is outside the " + std::to_string(size_) +
                                        " compressed power-spectrum features");
        if (seen[idx]) throw std::invalid_argument("feature selection: index " + std::to_string(idx) + " is repeated");
        seen[idx] = 1;
    }
    // Decode every compressed index into (key, n1, n2, l); keep the selected ones in (a, b, l, n1, n2) order.
    struct Decoded {
        int key, l, n1, n2, out;
    };
    std::vector<int> out_of(size_, -1);
    for (std::size_t q = 0; q < selection.size(); ++q) out_of[selection[q]] = static_cast<int>(q);
    std::vector<Decoded> decoded;
    for (int kk = 0; kk < static_cast<int>(keys_.size()); ++kk) {
        const Key& k = keys_[kk];
        int pair = 0;
        for (int n1 = 0; n1 < N; ++n1)
            for (int n2 = k.compressed ? n1 : 0; n2 < N; ++n2, ++pair)
                for (int l = 0; l < L; ++l) {
                    const int q = out_of[k.offset + pair * L + l];
                    if (q >= 0) decoded.push_back({kk, l, n1, n2, q});
                }
    }
    std::stable_sort(decoded.begin(), decoded.end(),
                     [](const Decoded& u, const Decoded& v) { return u.key != v.key ? u.key < v.key : u.l < v.l; });
    for (const Decoded& d : decoded) {
        const Key& k = keys_[d.key];
        double f = ((k.a < k.b) ? std::sqrt(2.0) : 1.0) * l_factor_[d.l];
        if (k.compressed && d.n1 != d.n2) f *= std::sqrt(2.0);
        if (!scales.empty()) f *= scales[static_cast<std::size_t>(d.out)];
        const int block = d.l * d.l * N;
        entries_.push_back({k.a * nlm_ * N + block + d.n1, k.b * nlm_ * N + block + d.n2, 2 * d.l + 1, d.out, f});
    }
    selection_ = selection;
    scales_ = scales;
    size_ = static_cast<int>(selection.size());
}

// The norm and x.g below are sums over all features (2100 for the paper hypers): Eigen's reductions keep
// several SIMD accumulators, where a plain loop is one serial chain of dependent adds (~1 ms per 320-atom call).
double PowerSpectrum::normalize_in_place(double* x) const {
    const double norm = Eigen::Map<const Eigen::VectorXd>(x, size_).norm();
    if (normalize_ && norm > 0.0) {
        const double inv = 1.0 / norm;
        for (int k = 0; k < size_; ++k) x[k] *= inv;
    }
    return norm;
}

double PowerSpectrum::compute_selected(const double* c, double* x) const {
    const int N = nmax_;
    for (const Entry& e : entries_) {
        const double* ca = c + e.a_offset;
        const double* cb = c + e.b_offset;
        double acc = 0.0;
        for (int r = 0; r < e.rows; ++r) acc += ca[r * N] * cb[r * N];
        x[e.out] = e.factor * acc;
    }
    return normalize_in_place(x);
}

void PowerSpectrum::backpropagate_selected(const double* c, const double* gp, double* dc) const {
    const int N = nmax_;
    std::fill(dc, dc + static_cast<std::size_t>(nspecies_) * nlm_ * N, 0.0);
    // d(factor sum_r ca_r cb_r) = factor sum_r (cb_r dca_r + ca_r dcb_r); for a = b and n1 = n2 both terms
    // land on the same coefficient, giving the factor 2 of a square.
    for (const Entry& e : entries_) {
        const double h = e.factor * gp[e.out];
        const double* ca = c + e.a_offset;
        const double* cb = c + e.b_offset;
        double* da = dc + e.a_offset;
        double* db = dc + e.b_offset;
        for (int r = 0; r < e.rows; ++r) {
            da[r * N] += h * cb[r * N];
            db[r * N] += h * ca[r * N];
        }
    }
}

double PowerSpectrum::compute(const double* c, double* x) const {
    if (!selection_.empty()) return compute_selected(c, x);
    dispatch_radial(nmax_, [&](auto n_const) { compute_all<decltype(n_const)::value>(c, x); });
    return normalize_in_place(x);
}

template <int NT>
void PowerSpectrum::compute_all(const double* c, double* x) const {
    const int L = lmax_ + 1, N = nmax_;
    RadialSquare<NT> P(N, N);
    for (const Key& k : keys_) {
        const double s = (k.a < k.b) ? std::sqrt(2.0) : 1.0;
        const double* ca = c + static_cast<std::size_t>(k.a) * nlm_ * N;
        const double* cb = c + static_cast<std::size_t>(k.b) * nlm_ * N;
        double* out = x + k.offset;
        for (int l = 0; l < L; ++l) {
            // P = C_a^T C_b over the (2l+1) rows of this l.
            outer_products<NT>(ca + l * l * N, cb + l * l * N, 2 * l + 1, N, P);
            const double f = s * l_factor_[l];
            if (k.compressed) {
                const double f2 = f * std::sqrt(2.0);
                int pair = 0;
                for (int n1 = 0; n1 < N; ++n1)
                    for (int n2 = n1; n2 < N; ++n2, ++pair) out[pair * L + l] = (n1 == n2 ? f : f2) * P(n1, n2);
            } else {
                for (int n1 = 0; n1 < N; ++n1)
                    for (int n2 = 0; n2 < N; ++n2) out[(n1 * N + n2) * L + l] = f * P(n1, n2);
            }
        }
    }
}

void PowerSpectrum::backpropagate(const double* c, const double* x, double norm, const double* g, double* dc,
                                  double* work) const {
    // Through the normalization: dE/dp = (g - x (x.g)) / ||p||.
    const double* gp = g;
    if (normalize_ && norm > 0.0) {
        const double xg = Eigen::Map<const Eigen::VectorXd>(x, size_).dot(Eigen::Map<const Eigen::VectorXd>(g, size_));
        const double inv = 1.0 / norm;
        for (int k = 0; k < size_; ++k) work[k] = (g[k] - x[k] * xg) * inv;
        gp = work;
    }
    if (!selection_.empty()) return backpropagate_selected(c, gp, dc);
    dispatch_radial(nmax_, [&](auto n_const) { backpropagate_all<decltype(n_const)::value>(c, gp, dc); });
}

template <int NT>
void PowerSpectrum::backpropagate_all(const double* c, const double* gp, double* dc) const {
    const int L = lmax_ + 1, N = nmax_;
    std::fill(dc, dc + static_cast<std::size_t>(nspecies_) * nlm_ * N, 0.0);
    RadialSquare<NT> H(N, N), Ht(N, N);
    for (const Key& k : keys_) {
        const double s = (k.a < k.b) ? std::sqrt(2.0) : 1.0;
        const double* ca = c + static_cast<std::size_t>(k.a) * nlm_ * N;
        const double* cb = c + static_cast<std::size_t>(k.b) * nlm_ * N;
        double* dca = dc + static_cast<std::size_t>(k.a) * nlm_ * N;
        double* dcb = dc + static_cast<std::size_t>(k.b) * nlm_ * N;
        const double* gk = gp + k.offset;
        for (int l = 0; l < L; ++l) {
            const double f = s * l_factor_[l];
            // H[n1][n2] = f dE/dx_{n1 n2 l} over the full square. A compressed off-diagonal entry
            // y = sqrt2 f P_{n1n2} replaces the two full-square copies (n1,n2) and (n2,n1), each equal to f P:
            // their gradients must add up to dE/dP = sqrt2 f dE/dy, so each copy gets f dE/dy / sqrt2.
            if (k.compressed) {
                int pair = 0;
                for (int n1 = 0; n1 < N; ++n1)
                    for (int n2 = n1; n2 < N; ++n2, ++pair) {
                        const double h = f * gk[pair * L + l] * (n1 == n2 ? 1.0 : M_SQRT1_2);
                        H(n1, n2) = h;
                        H(n2, n1) = h;
                    }
            } else {
                for (int n1 = 0; n1 < N; ++n1)
                    for (int n2 = 0; n2 < N; ++n2) H(n1, n2) = f * gk[(n1 * N + n2) * L + l];
                if (k.a == k.b)  // P is symmetric, so only the symmetric part of H contributes
                    for (int n1 = 0; n1 < N; ++n1)
                        for (int n2 = n1 + 1; n2 < N; ++n2) H(n1, n2) = H(n2, n1) = 0.5 * (H(n1, n2) + H(n2, n1));
            }
            // dC_a[lm][n1] += sum_n2 H[n1][n2] C_b[lm][n2];  dC_b[lm][n2] += sum_n1 H[n1][n2] C_a[lm][n1].
            if (k.a == k.b) {  // H is symmetric for a = b (symmetrized above in the Full layout)
                symmetric_outer_products_adjoint<NT>(ca + l * l * N, H, 2 * l + 1, N, dca + l * l * N);
            } else {
                Ht = H.transpose();
                outer_products_adjoint<NT>(ca + l * l * N, cb + l * l * N, H, Ht, 2 * l + 1, N, dca + l * l * N,
                                           dcb + l * l * N);
            }
        }
    }
}

void PowerSpectrum::from_full_layout(const double* full, double* result) const {
    const int L = lmax_ + 1, N = nmax_;
    std::vector<double> all;
    double* out = result;
    if (!selection_.empty()) {
        all.resize(static_cast<std::size_t>(keys_.back().offset) + nmax_ * (nmax_ + 1) / 2 * L);
        out = all.data();
    }
    int full_offset = 0;
    for (const Key& k : keys_) {
        const double* in = full + full_offset;
        double* o = out + k.offset;
        if (k.compressed) {
            int pair = 0;
            for (int n1 = 0; n1 < N; ++n1)
                for (int n2 = n1; n2 < N; ++n2, ++pair)
                    for (int l = 0; l < L; ++l)
                        o[pair * L + l] = (n1 == n2) ? in[(n1 * N + n2) * L + l]
                                                     : (in[(n1 * N + n2) * L + l] + in[(n2 * N + n1) * L + l]) / std::sqrt(2.0);
        } else {
            std::copy(in, in + N * N * L, o);
        }
        full_offset += N * N * L;
    }
    for (std::size_t q = 0; q < selection_.size(); ++q) result[q] = all[selection_[q]];
}

void PowerSpectrum::to_full_layout(const double* in, double* full) const {
    const int L = lmax_ + 1, N = nmax_;
    std::vector<double> all;
    const double* compressed = in;
    if (!selection_.empty()) {
        all.assign(static_cast<std::size_t>(keys_.back().offset) + nmax_ * (nmax_ + 1) / 2 * L, 0.0);
        for (std::size_t q = 0; q < selection_.size(); ++q) all[selection_[q]] = in[q];
        compressed = all.data();
    }
    int full_offset = 0;
    for (const Key& k : keys_) {
        const double* c = compressed + k.offset;
        double* o = full + full_offset;
        if (k.compressed) {
            int pair = 0;
            for (int n1 = 0; n1 < N; ++n1)
                for (int n2 = n1; n2 < N; ++n2, ++pair)
                    for (int l = 0; l < L; ++l) {
                        const double v = c[pair * L + l];
                        if (n1 == n2) {
                            o[(n1 * N + n2) * L + l] = v;
                        } else {
                            o[(n1 * N + n2) * L + l] = v * M_SQRT1_2;
                            o[(n2 * N + n1) * L + l] = v * M_SQRT1_2;
                        }
                    }
        } else {
            std::copy(c, c + N * N * L, o);
        }
        full_offset += N * N * L;
    }
}

}  // namespace gapd
