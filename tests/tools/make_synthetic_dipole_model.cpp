// Writes the synthetic dipole model of tests/data/dipole (see synthetic_dipole_model.hpp; NOT physics).
//   make_synthetic_dipole_model tests/data/librascal/structures.extxyz tests/data/dipole/synthetic_dipole.gapd

#include "models/formats/native_model_file.hpp"
#include "synthetic_dipole_model.hpp"

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " STRUCTURES.extxyz OUT.gapd\n";
        return 2;
    }
    try {
        gapd::ModelFileContents contents;
        contents.dipole = gapd::testing::make_synthetic_dipole_model(argv[1]);
        gapd::write_native_model(argv[2], contents);
        std::cerr << "wrote " << argv[2] << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "make_synthetic_dipole_model: " << e.what() << "\n";
        return 1;
    }
}
