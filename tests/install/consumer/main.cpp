// Reads a structure (natoms; 9 cell numbers, rows = lattice vectors; natoms lines "Z x y z"), evaluates it with the
// installed gapd library and prints energy, forces, stress, dipole and Born charges with 17 digits.
#include <gapd/gapd.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: gapd_consumer MODEL STRUCTURE.txt\n";
        return 2;
    }
    try {
        std::ifstream in(argv[2]);
        std::size_t n = 0;
        in >> n;
        std::vector<double> cell(9), positions(3 * n);
        std::vector<int> numbers(n);
        for (double& c : cell) in >> c;
        for (std::size_t i = 0; i < n; ++i) in >> numbers[i] >> positions[3 * i] >> positions[3 * i + 1] >> positions[3 * i + 2];
        if (!in) throw std::runtime_error(std::string(argv[2]) + ": unreadable structure");

        gapd::ModelOptions options;
        options.threads = 1;
        const gapd::Model model(argv[1], options);
        gapd::AtomsView atoms;
        atoms.natoms = n;
        atoms.positions = positions.data();
        atoms.cell = cell.data();
        atoms.numbers = numbers.data();
        gapd::Quantities q;
        q.born_charges = true;
        const gapd::Results r = model.compute_with_gradients(atoms, q);

        std::printf("version %s\nenergy %.17g\n", gapd::version(), r.energy);
        for (double f : r.forces) std::printf("force %.17g\n", f);
        for (double s : r.stress) std::printf("stress %.17g\n", s);
        for (double d : r.dipole) std::printf("dipole %.17g\n", d);
        for (double z : r.born_charges) std::printf("born_charge %.17g\n", z);
    } catch (const std::exception& e) {
        std::cerr << "gapd_consumer: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
