#pragma once
// Atomic number -> position in a model's sorted species list, and the one message for an atom whose species the
// model lacks (used by the GAP and dipole calculators, the fit's kernel rows and the template checks).

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace gapd {

class SpeciesMap {
public:
    explicit SpeciesMap(std::vector<int> sorted_species) : species_(std::move(sorted_species)) {}

    const std::vector<int>& species() const { return species_; }
    int size() const { return static_cast<int>(species_.size()); }

    // Index of z in the species list, -1 if absent.
    int index(int z) const {
        const auto it = std::lower_bound(species_.begin(), species_.end(), z);
        return (it != species_.end() && *it == z) ? static_cast<int>(it - species_.begin()) : -1;
    }

    // The index of every atom. Throws std::invalid_argument naming the first atom the model does not know:
    // "atom 3 has atomic number 8, which the <model_kind> does not know (model species: 22 56)".
    std::vector<int> indices(const std::vector<int>& numbers, const std::string& model_kind = "model") const {
        std::vector<int> out(numbers.size());
        for (std::size_t i = 0; i < numbers.size(); ++i) {
            out[i] = index(numbers[i]);
            if (out[i] < 0) {
                std::ostringstream msg;
                msg << "atom " << i << " has atomic number " << numbers[i] << ", which the " << model_kind
                    << " does not know (model species:";
                for (int z : species_) msg << ' ' << z;
                msg << ")";
                throw std::invalid_argument(msg.str());
            }
        }
        return out;
    }

private:
    std::vector<int> species_;
};

}  // namespace gapd
