#pragma once
// Selection of sparse environments (rows of a feature matrix): farthest-point sampling or CUR. Both are
// deterministic and stop early when the remaining rows add nothing new (duplicates / rank exhausted).

#include "models/core/matrix.hpp"

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace gapd {

enum class SparseSelection { FarthestPoint, Cur };

// "fps" / "cur"; throws std::invalid_argument otherwise.
SparseSelection parse_sparse_selection(const std::string& name);
std::string sparse_selection_name(SparseSelection s);

// Indices of `count` rows of `features`: first row 0, then repeatedly the row farthest from all chosen ones
// (ties: lowest index), so the result is deterministic. Stops early when only duplicates of chosen
// rows remain; count is capped at features.rows().
std::vector<int> farthest_point_sampling(const RowMatrix& features, int count);

// Iterative CUR row selection (as scikit-matter's CUR with k = 1): at each step the row with the largest
// leverage on the top right singular vector v of the current matrix X, score_i = (x_i . v)^2, is picked
// (ties: lowest index), then X is projected onto the orthogonal complement of the picked row,
// X <- X (I - w w^T), w = x_p / |x_p|. The top singular vector comes from power iteration (fixed stopping rule,
// start: the previous vector, so the sequence is deterministic) on the smaller Gram matrix, deflated in place
// after each pick: X X^T (N x N; scores = squared entries of its top eigenvector) when N <= D, else X^T X
// (D x D). Stops early once the remaining matrix has no weight left (largest eigenvalue or the picked row's
// residual <= 1e-12 of the initial trace): the rows left are combinations of the chosen ones.
// Cost per pick O(S^2 x iterations (<= 300) + N D), S = min(N, D); memory S^2.
std::vector<int> cur_selection(const RowMatrix& features, int count);

// Dispatch on `method`.
std::vector<int> select_sparse_rows(const RowMatrix& features, int count, SparseSelection method);

// The sparse environments of every central species, as both fits pick them: for each species z of `candidates`
// (the feature rows of its environments, in a fixed order), select_sparse_rows(candidates[z], counts[z], method).
// Returns the picked row indices per species; fewer than asked (the others add nothing new, or too few
// candidates) is a warning on `log`. `key` is the configuration section named in messages ("gap", "dipoles");
// a species without a count throws std::runtime_error "<key>.sparse_points: no count for Ba, present in the data".
std::map<int, std::vector<int>> select_sparse_rows_per_species(const std::map<int, RowMatrix>& candidates,
                                                               const std::map<int, int>& counts,
                                                               SparseSelection method, const std::string& key,
                                                               std::ostream& log);

}  // namespace gapd
