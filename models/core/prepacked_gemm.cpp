#include "models/core/prepacked_gemm.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <stdexcept>

namespace gapd {

namespace {

namespace ei = Eigen::internal;
using Index = Eigen::Index;
using Traits = ei::gebp_traits<double, double>;
using ResMapper = ei::blas_data_mapper<double, Index, Eigen::ColMajor>;
using RhsMapper = ei::const_blas_data_mapper<double, Index, Eigen::ColMajor>;

template <int Order>
void pack_panel(const double* A, Index stride, Index i0, Index k0, Index mc, Index kc, double* out) {
    using LhsMapper = ei::const_blas_data_mapper<double, Index, Order>;
    ei::gemm_pack_lhs<double, Index, LhsMapper, Traits::mr, Traits::LhsProgress, typename Traits::LhsPacket4Packing,
                      Order>
        pack;
    pack(out, LhsMapper(A, stride).getSubMapper(i0, k0), kc, mc);
}

}  // namespace

PrepackedGemm::PrepackedGemm(const double* A, Index rows, Index depth, Index stride, Storage storage,
                             Index max_cols)
    : rows_(rows), depth_(depth) {
    if (rows < 1 || depth < 1 || max_cols < 1) throw std::invalid_argument("PrepackedGemm: empty matrix");
    kc_ = depth;
    mc_ = rows;
    nc_ = max_cols;
    ei::computeProductBlockingSizes<double, double, 1, Index>(kc_, mc_, nc_, 1);
    k_blocks_ = (depth + kc_ - 1) / kc_;
    const Index i_blocks = (rows + mc_ - 1) / mc_;
    offset_.resize(static_cast<std::size_t>(i_blocks * k_blocks_) + 1);
    packed_.resize(static_cast<std::size_t>(rows) * depth);
    std::size_t at = 0;
    for (Index ib = 0; ib < i_blocks; ++ib)
        for (Index kb = 0; kb < k_blocks_; ++kb) {
            const Index i0 = ib * mc_, k0 = kb * kc_;
            const Index mc = std::min(mc_, rows - i0), kc = std::min(kc_, depth - k0);
            offset_[ib * k_blocks_ + kb] = at;
            if (storage == Storage::RowMajor)
                pack_panel<Eigen::RowMajor>(A, stride, i0, k0, mc, kc, packed_.data() + at);
            else
                pack_panel<Eigen::ColMajor>(A, stride, i0, k0, mc, kc, packed_.data() + at);
            at += static_cast<std::size_t>(mc * kc);
        }
    offset_.back() = at;
}

void PrepackedGemm::multiply(const double* B, Index b_stride, Index cols, double* C, Index c_stride,
                             Scratch& scratch) const {
    for (Index j = 0; j < cols; ++j) std::fill(C + j * c_stride, C + j * c_stride + rows_, 0.0);
    if (cols == 0) return;
    const Index nc_max = std::min(nc_, cols);
    if (scratch.size() < static_cast<std::size_t>(kc_ * nc_max)) scratch.resize(static_cast<std::size_t>(kc_ * nc_max));
    ei::gemm_pack_rhs<double, Index, RhsMapper, Traits::nr, Eigen::ColMajor> pack_rhs;
    ei::gebp_kernel<double, double, Index, ResMapper, Traits::mr, Traits::nr, false, false> gebp;
    const RhsMapper rhs(B, b_stride);
    const ResMapper res(C, c_stride);
    const Index i_blocks = (rows_ + mc_ - 1) / mc_;
    // Eigen's order for each entry of C: depth blocks in increasing order, each one gebp call.
    for (Index kb = 0; kb < k_blocks_; ++kb) {
        const Index k0 = kb * kc_, kc = std::min(kc_, depth_ - k0);
        for (Index j0 = 0; j0 < cols; j0 += nc_max) {
            const Index nc = std::min(nc_max, cols - j0);
            pack_rhs(scratch.data(), rhs.getSubMapper(k0, j0), kc, nc);
            for (Index ib = 0; ib < i_blocks; ++ib) {
                const Index i0 = ib * mc_, mc = std::min(mc_, rows_ - i0);
                gebp(res.getSubMapper(i0, j0), packed_.data() + offset_[ib * k_blocks_ + kb], scratch.data(), mc, kc,
                     nc, 1.0);
            }
        }
    }
}

}  // namespace gapd
