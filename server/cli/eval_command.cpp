// gapd eval: the error table of a model on any labelled extxyz file (+ optional predictions file).

#include "models/core/frame_loop.hpp"
#include "models/core/openmp.hpp"
#include "models/core/atomic_file_write.hpp"
#include "models/dipoles/dipole_calculator.hpp"
#include "models/formats/model_file.hpp"
#include "models/dipoles/polarization_unwrapping.hpp"
#include "models/formats/extxyz.hpp"
#include "models/fit/error_report.hpp"
#include "models/fit/training_data.hpp"
#include "server/cli/commands.hpp"
#include "server/cli/common_options.hpp"
#include "server/cli/option_checks.hpp"
#include "server/cli/model_loading.hpp"
#include "server/cli/yaml_config.hpp"
#include "server/cli/pair_limit_option.hpp"
#include "server/serve/model_evaluator.hpp"
#include "models/core/same_file.hpp"

#include <CLI/CLI.hpp>
#include <Eigen/LU>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

namespace gapd {

namespace {

struct EvalOptions {
    std::string model, data, output, report, radial = "spline", prefix = "gap_", group_by;
    PropertyKeys keys;
    int threads = 0, formula_unit_atoms = 5;
    bool clusters = false;
};

// --group-by: a frame's group is its value of each key (natoms = the number of atoms, otherwise an info key of
// the frame; "(none)" where the frame lacks it).
struct FrameGrouping {
    std::vector<std::string> keys;

    static FrameGrouping parse(const std::string& text) {
        FrameGrouping g;
        std::size_t start = 0;
        while (start <= text.size()) {
            const std::size_t comma = std::min(text.find(',', start), text.size());
            const std::string key = text.substr(start, comma - start);
            if (key.empty() || key.find_first_of(" \t=\"") != std::string::npos)
                throw std::invalid_argument("--group-by: '" + text +
                                            "' is not a comma-separated list of keys (natoms or info keys such "
                                            "as config_type)");
            g.keys.push_back(key);
            start = comma + 1;
        }
        return g;
    }

    std::vector<std::string> of(const LabelledFrame& f) const {
        std::vector<std::string> values;
        for (const std::string& key : keys) {
            if (key == "natoms") {
                values.push_back(std::to_string(f.structure.size()));
                continue;
            }
            const auto it = f.raw.info.find(key);
            values.push_back(it == f.raw.info.end() ? "(none)" : it->second);
        }
        return values;
    }

    // A key that no frame has is a typo, not a group: refuse it and say which keys the frames have.
    void check_keys_present(const std::vector<LabelledFrame>& frames, const std::string& file) const {
        for (const std::string& key : keys) {
            if (key == "natoms") continue;
            bool found = false;
            std::set<std::string> available;
            for (const LabelledFrame& f : frames) {
                if (f.raw.info.count(key)) {
                    found = true;
                    break;
                }
                for (const auto& [k, v] : f.raw.info) available.insert(k);
            }
            if (found) continue;
            std::string list = "natoms";
            for (const std::string& k : available) list += ", " + k;
            throw std::invalid_argument(file + ": --group-by " + key + ": no frame has info key '" + key +
                                        "' (keys: " + list + ")");
        }
    }

    std::string label(const std::vector<std::string>& values) const {
        std::string out;
        for (std::size_t k = 0; k < keys.size(); ++k) out += (k ? ", " : "") + keys[k] + "=" + values[k];
        return out;
    }
};

// Groups in natural order: numbers by value (natoms 5 < 10 < 40), everything else as text.
struct NaturalOrder {
    static bool number(const std::string& s, double& value) {
        char* end = nullptr;
        value = std::strtod(s.c_str(), &end);
        return !s.empty() && end == s.c_str() + s.size();
    }
    bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const {
        for (std::size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
            if (a[k] == b[k]) continue;
            double x, y;
            if (number(a[k], x) && number(b[k], y) && x != y) return x < y;
            return a[k] < b[k];
        }
        return a.size() < b.size();
    }
};

int run_eval(const EvalOptions& o) {
    const std::vector<std::string> inputs{o.model, o.data};
    refuse_output_over_input(o.output, inputs);
    if (!o.report.empty()) {
        refuse_output_over_input(o.report + ".json", inputs);
        refuse_output_over_input(o.report + ".txt", inputs);
    }
    set_thread_count(o.threads);
    std::unique_ptr<GapCalculator> calc = load_calculator(o.model, parse_radial_mode(o.radial));
    std::unique_ptr<DipoleCalculator> dipoles;
    if (is_native_model_file(o.model))
        if (auto d = read_native_model_contents(o.model).dipole)
            dipoles = std::make_unique<DipoleCalculator>(std::move(*d), parse_radial_mode(o.radial));
    PropertyKeys keys = o.keys;
    if (!dipoles) keys.dipole.clear();  // dipoles are read (and checked) only when the model predicts them
    LabelledReadOptions read;
    read.keys = keys;
    read.clusters = o.clusters;
    std::vector<LabelledFrame> frames = read_labelled_frames(o.data, read);
    ErrorTable table;
    table.formula_unit_atoms = o.formula_unit_atoms;
    std::optional<FrameGrouping> grouping;
    if (!o.group_by.empty()) {
        grouping = FrameGrouping::parse(o.group_by);
        grouping->check_keys_present(frames, o.data);
    }
    std::map<std::vector<std::string>, ErrorTable, NaturalOrder> groups;
    // Predictions in parallel (over frames when they are small), the table filled in frame order afterwards.
    std::optional<DipoleServing> serving;
    if (dipoles) serving.emplace(DipoleServing{*dipoles, parse_extras_selection("dipole"), CellDipoleRoles{}});
    std::vector<ModelEvaluation> predictions(frames.size());
    for (const LabelledFrame& f : frames) calc->check_species(f.structure.numbers, frame_label(f));
    const FramePlan plan = plan_frames(frames, [](const LabelledFrame& f) { return f.structure.size(); });
    const std::vector<FrameBatch>& batches = plan.batches;
    for_each_frame(
        batches.size(), plan.over_frames,
        [&] { return ModelEvaluator(calc.get(), serving); },
        [&](std::size_t b, ModelEvaluator& evaluator) {
            const FrameBatch batch = batches[b];
            std::vector<Structure> structures;
            for (std::size_t k = 0; k < batch.count; ++k) structures.push_back(frames[batch.first + k].structure);
            std::vector<ModelEvaluation> results = evaluator.evaluate_batch_or_name(
                structures, [&](std::size_t k) { return frame_label(frames[batch.first + k]); });
            for (std::size_t k = 0; k < batch.count; ++k) predictions[batch.first + k] = std::move(results[k]);
        });
    std::vector<ExtxyzFrame> out;
    for (std::size_t k = 0; k < frames.size(); ++k) {
        LabelledFrame& f = frames[k];
        const GapPrediction& p = *predictions[k].gap;
        table.add(f, p);
        ErrorTable* group = nullptr;
        if (grouping) {
            group = &groups[grouping->of(f)];
            group->formula_unit_atoms = o.formula_unit_atoms;
            group->add(f, p);
        }
        Eigen::Vector3d dipole = Eigen::Vector3d::Zero(), reference = f.dipole;
        if (dipoles) {
            dipole = predictions[k].dipoles->prediction.total;
            // A periodic cell's dipole is defined modulo the polarization quantum: compare on the reference's
            // branch closest to the prediction (docs/fitting.md).
            const bool periodic = f.structure.pbc[0] && f.structure.pbc[1] && f.structure.pbc[2];
            if (f.has_dipole && periodic) reference = nearest_branch(f.structure.cell, f.dipole, dipole);
            if (f.has_dipole) table.add_dipole(f, reference, dipole);
            if (f.has_dipole && group) group->add_dipole(f, reference, dipole);
        }
        if (o.output.empty()) continue;
        // References stay under their own keys; predictions get the prefix (parity plots read both).
        ExtxyzFrame frame = std::move(f.raw);
        frame.info[o.prefix + "energy"] = format_info_numbers(&p.energy, 1);
        frame.arrays[o.prefix + "forces"] = p.forces;
        if (dipoles) frame.info[o.prefix + "dipole"] = format_info_numbers(dipole.data(), 3);
        if (dipoles && f.has_dipole) frame.info[o.prefix + "dipole_reference"] = format_info_numbers(reference.data(), 3);
        if (frame.structure.pbc[0] && frame.structure.pbc[1] && frame.structure.pbc[2] &&
            std::abs(frame.structure.cell.determinant()) > 0) {
            const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> virial = p.virial;
            const Eigen::Matrix<double, 3, 3, Eigen::RowMajor> stress = -virial / std::abs(frame.structure.cell.determinant());
            frame.info[o.prefix + "virial"] = format_info_numbers(virial.data(), 9);
            frame.info[o.prefix + "stress"] = format_info_numbers(stress.data(), 9);
        }
        out.push_back(std::move(frame));
    }
    std::string text = table.to_text(o.data);
    if (grouping) {
        GroupSummary summary;
        summary.label_width = 12;
        for (const auto& [z, stats] : table.forces_by_species) summary.species.push_back(z);
        for (const auto& [values, group] : groups)
            summary.label_width = std::max(summary.label_width, static_cast<int>(grouping->label(values).size()));
        text += "\nBy " + o.group_by + ":\n" + summary.header();
        for (const auto& [values, group] : groups) text += summary.row(grouping->label(values), group);
    }
    std::cout << text;
    if (!o.output.empty()) write_extxyz(o.output, out);
    if (!o.report.empty()) {
        nlohmann::json j = table.to_json();
        j["model"] = o.model;
        j["data"] = o.data;
        if (grouping) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& [values, group] : groups) {
                nlohmann::json g = group.to_json();
                nlohmann::json key = nlohmann::json::object();
                for (std::size_t k = 0; k < values.size(); ++k) key[grouping->keys[k]] = values[k];
                g["group"] = key;
                list.push_back(g);
            }
            j["groups"] = {{"keys", grouping->keys}, {"tables", list}};
        }
        write_file_atomically(o.report + ".json", [&](std::ostream& s) { s << j.dump(1) << "\n"; });
        write_file_atomically(o.report + ".txt", [&](std::ostream& s) { s << text; });
    }
    return 0;
}

}  // namespace

void add_eval_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<EvalOptions>();
    CLI::App* cmd = app.add_subcommand(
        "eval", "Error table (RMSE, MAE: energy per atom and per formula unit, force components per species, virial "
                "per atom, and the dipole per atom if the model has a dipole section) of a model on a labelled "
                "extxyz file.");
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->add_option("-m,--model", o->model, "Model file: gapd native or librascal JSON")->required();
    cmd->add_option("data,--data", o->data, "Labelled extxyz file")->required()->check(CLI::ExistingFile);
    cmd->add_option("-o,--output", o->output,
                    "Write the frames with predictions added under the prefixed keys (gap_energy, gap_forces, ..., "
                    "gap_dipole)");
    cmd->add_option("--report", o->report, "Also write REPORT.json and REPORT.txt");
    cmd->add_option("--key-prefix", o->prefix,
                    "Prefix of the prediction keys in --output (default gap_: the references keep their keys)");
    cmd->add_option("--energy-key", o->keys.energy, "Reference energy key (default energy)");
    cmd->add_option("--forces-key", o->keys.forces, "Reference forces key (default forces)");
    cmd->add_option("--stress-key", o->keys.stress, "Reference stress key (default stress)");
    cmd->add_option("--virial-key", o->keys.virial, "Reference virial key (default virial; wins over stress)");
    cmd->add_option("--dipole-key", o->keys.dipole,
                    "Reference total dipole key, e*Å (default dipole; compared when the model has a dipole section)");
    cmd->add_option("--group-by", o->group_by,
                    "Also one line of RMSEs per group of frames: natoms (cell size) or info keys of the frames "
                    "(config_type, ...), comma-separated for groups by several keys (natoms,config_type); frames "
                    "without a key go to '(none)'. In --report's JSON under groups");
    cmd->add_option("--formula-unit-atoms", o->formula_unit_atoms, "Atoms per formula unit (default 5, BaTiO3)")
        ->check(positive_integer());
    cmd->add_option("--threads", o->threads, "OpenMP threads (default: OMP_NUM_THREADS or all cores)")
        ->check(non_negative_integer());
    cmd->add_option("--radial", o->radial, radial_mode_help());
    add_clusters_flag(cmd, o->clusters);
    add_config_option(cmd);
    add_max_pairs_option(cmd);
    cmd->callback([o, &exit_code]() { exit_code = run_eval(*o); });
}

}  // namespace gapd
