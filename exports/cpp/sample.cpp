// hepvae-sample: sample jets from an exported HyperVAE sampler with the onnxruntime C++ API.
//
//   hepvae-sample --model sampler.onnx --n 1000 --type t [--seed 1] [--temperature 1]
//                 [--noise noise.csv] [--batch 64] [--threads 1] -o jets.csv
//
// The graph takes noise [B, noise_dim] (standard normals), label [B] (JetNet coding g=0, q=1,
// t=2, w=3, z=4) and temperature [1], and returns constituents p4 [B, N, 4] (E, px, py, pz in
// GeV, by descending pT, real ones first), multiplicity [B], jet [B, 4] (pt, eta, phi, mass of
// the full jet: the constituents and what lies beyond the N slots) and nparticles [B] (the
// multiplicity before truncation, as Jet_nparticles in the ROOT schema).
//
// Noise: by default drawn here with std::mt19937_64 seeded by --seed (reproducible, but not the
// same numbers as Python's hepvae.sampling); with --noise FILE one row of noise_dim
// comma-separated numbers per jet is read instead, so that the jets equal those of the Python
// sampler for the same rows.
//
// The output format follows the name given to -o:
//   OUT.csv  one row per constituent:
//            jet,label,multiplicity,nparticles,jet_pt,jet_eta,jet_phi,jet_mass,index,E,px,py,pz,
//            pt,eta,phi
//            where jet_* is the full jet and nparticles the multiplicity before truncation;
//   OUT.npy  a NumPy structured array, one record per jet (numpy.load reads it), fields
//            label int64, multiplicity int64, nparticles int64, jet float32 [4] (pt, eta, phi,
//            mass of the full jet), p4 float32 [N, 4] (E, px, py, pz in GeV; slots past the
//            multiplicity are zero). The graph's outputs as they are: no text formatting.

#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

const std::string kFormat = "hepvae-sampler/1";
const std::string kJetTypes = "gqtwz";

struct Options {
  std::string model;
  std::string output;
  std::string noise_file;
  std::string type = "t";
  long long n = -1;
  unsigned long long seed = 0;
  float temperature = 1.0f;
  long long batch = 64;  // jets per onnxruntime call: small calls stay in the CPU caches
  int threads = 1;
};

// output written under a temporary name until complete; removed on failure
std::string g_partial;

[[noreturn]] void fail(const std::string& message) {
  if (!g_partial.empty()) std::remove(g_partial.c_str());
  std::cerr << "hepvae-sample: error: " << message << std::endl;
  std::exit(2);
}

void usage() {
  std::cerr << "usage: hepvae-sample --model FILE.onnx --type {g,q,t,w,z} (--n N | --noise FILE)\n"
               "                     [--seed S] [--temperature T] [--batch B] [--threads K]\n"
               "                     -o OUT.csv|OUT.npy\n";
}

long long to_int(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    long long value = std::stoll(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    return value;
  } catch (const std::exception&) {
    fail(flag + ": expected an integer, got '" + text + "'");
  }
}

Options parse(int argc, char** argv) {
  Options opt;
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      usage();
      std::exit(0);
    }
    if (i + 1 >= argc) fail(flag + ": missing value");
    values[flag] = argv[++i];
  }
  for (const auto& [flag, value] : values) {
    if (flag == "--model") opt.model = value;
    else if (flag == "-o" || flag == "--output") opt.output = value;
    else if (flag == "--noise") opt.noise_file = value;
    else if (flag == "--type") opt.type = value;
    else if (flag == "--n") opt.n = to_int(flag, value);
    else if (flag == "--seed") opt.seed = static_cast<unsigned long long>(to_int(flag, value));
    else if (flag == "--batch") opt.batch = to_int(flag, value);
    else if (flag == "--threads") opt.threads = static_cast<int>(to_int(flag, value));
    else if (flag == "--temperature") {
      try {
        opt.temperature = std::stof(value);
      } catch (const std::exception&) {
        fail("--temperature: expected a number, got '" + value + "'");
      }
    } else {
      usage();
      fail("unknown option " + flag);
    }
  }
  if (opt.model.empty() || opt.output.empty()) {
    usage();
    fail("--model and -o are required");
  }
  if (opt.type.size() != 1 || kJetTypes.find(opt.type) == std::string::npos)
    fail("--type must be one of g, q, t, w, z, got '" + opt.type + "'");
  if (opt.noise_file.empty() && opt.n <= 0) fail("--n must be > 0 (or give --noise)");
  if (!(opt.temperature > 0.0f)) fail("--temperature must be > 0");
  if (opt.batch <= 0) fail("--batch must be > 0");
  if (opt.threads <= 0) fail("--threads must be > 0");
  return opt;
}

std::string metadata(const Ort::ModelMetadata& meta, const char* key) {
  Ort::AllocatorWithDefaultOptions allocator;
  auto value = meta.LookupCustomMetadataMapAllocated(key, allocator);
  return value ? std::string(value.get()) : std::string();
}

// Integers in a JSON list such as "[0, 2, 3]".
std::vector<int> int_list(const std::string& text) {
  std::vector<int> out;
  std::string digits;
  for (char c : text + ",") {
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (!digits.empty()) {
      out.push_back(std::stoi(digits));
      digits.clear();
    }
  }
  return out;
}

std::vector<float> read_noise(const std::string& path, long long dim, long long* rows) {
  std::ifstream in(path);
  if (!in) fail(path + ": cannot read the noise file");
  std::vector<float> values;
  std::string line;
  long long count = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream fields(line);
    std::string field;
    long long columns = 0;
    while (std::getline(fields, field, ',')) {
      values.push_back(std::strtof(field.c_str(), nullptr));
      ++columns;
    }
    if (columns != dim)
      fail(path + ": line " + std::to_string(count + 1) + " has " + std::to_string(columns) +
           " values, the model needs " + std::to_string(dim));
    ++count;
  }
  if (count == 0) fail(path + ": no noise rows");
  *rows = count;
  return values;
}

}  // namespace

// CSV fields ("value,"), as the stream would print them with precision 9, but much faster
void append(std::string& row, int64_t value) {
  char buffer[24];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  row.append(buffer, end);
  row.push_back(',');
}

void append(std::string& row, double value) {
  char buffer[32];
  const auto end =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general, 9).ptr;
  row.append(buffer, end);
  row.push_back(',');
}

// The header of a version 1.0 .npy file holding `jets` records of the layout above.
std::string npy_header(long long jets, long long slots) {
  std::string dict = "{'descr': [('label', '<i8'), ('multiplicity', '<i8'), ('nparticles', "
                     "'<i8'), ('jet', '<f4', (4,)), ('p4', '<f4', (" +
                     std::to_string(slots) + ", 4))], 'fortran_order': False, 'shape': (" +
                     std::to_string(jets) + ",), }";
  const size_t fixed = 10;  // magic, version and header length
  const size_t total = (fixed + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - fixed - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string header = "\x93NUMPY";
  header.push_back('\x01');
  header.push_back('\x00');
  header.push_back(static_cast<char>(dict.size() & 0xff));
  header.push_back(static_cast<char>(dict.size() >> 8));
  return header + dict;
}

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  try {
    Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "hepvae-sample");
    Ort::SessionOptions options;
    options.SetIntraOpNumThreads(opt.threads);
    options.SetInterOpNumThreads(1);
    options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    Ort::Session session(env, opt.model.c_str(), options);

    Ort::ModelMetadata meta = session.GetModelMetadata();
    if (metadata(meta, "hepvae.format") != kFormat)
      fail(opt.model + ": not a hepvae sampler (no '" + kFormat + "' metadata)");
    const long long dim = std::stoll(metadata(meta, "noise_dim"));
    const long long slots = std::stoll(metadata(meta, "max_particles"));
    const int label = static_cast<int>(kJetTypes.find(opt.type));
    std::vector<int> trained = int_list(metadata(meta, "trained_labels"));
    if (std::find(trained.begin(), trained.end(), label) == trained.end())
      fail(opt.model + ": the model was not trained on jet type '" + opt.type + "'");

    std::vector<float> noise;
    if (!opt.noise_file.empty()) {
      long long rows = 0;
      noise = read_noise(opt.noise_file, dim, &rows);
      if (opt.n > 0 && opt.n != rows)
        fail("--n " + std::to_string(opt.n) + " differs from the " + std::to_string(rows) +
             " rows of " + opt.noise_file);
      opt.n = rows;
    } else {
      std::mt19937_64 engine(opt.seed);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      noise.resize(static_cast<size_t>(opt.n * dim));
      for (float& x : noise) x = normal(engine);
    }

    const bool npy = ends_with(opt.output, ".npy");
    if (!npy && !ends_with(opt.output, ".csv"))
      fail(opt.output + ": the output must end in .csv or .npy");
    const uint16_t probe = 1;
    if (npy && *reinterpret_cast<const unsigned char*>(&probe) != 1)
      fail(opt.output + ": .npy output is written little-endian only; use .csv on this machine");
    const std::filesystem::path parent = std::filesystem::path(opt.output).parent_path();
    std::error_code ignored;
    if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
    g_partial = opt.output + ".partial";
    std::ofstream out(g_partial, std::ios::binary);
    if (!out) {
      g_partial.clear();
      fail(opt.output + ": cannot write");
    }
    if (npy) {
      out << npy_header(opt.n, slots);
    } else {
      out << "jet,label,multiplicity,nparticles,jet_pt,jet_eta,jet_phi,jet_mass,index,E,px,py,"
             "pz,pt,eta,phi\n";
    }
    std::string row;  // one batch of output: CSV rows (std::to_chars) or .npy records

    Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    const char* input_names[] = {"noise", "label", "temperature"};
    const char* output_names[] = {"p4", "multiplicity", "jet", "nparticles"};
    float temperature = opt.temperature;
    const int64_t one = 1;
    auto start = std::chrono::steady_clock::now();
    for (long long first = 0; first < opt.n; first += opt.batch) {
      const long long b = std::min(opt.batch, opt.n - first);
      std::vector<int64_t> labels(static_cast<size_t>(b), label);
      const int64_t noise_shape[] = {b, dim};
      const int64_t label_shape[] = {b};
      Ort::Value inputs[] = {
          Ort::Value::CreateTensor<float>(memory, noise.data() + first * dim,
                                          static_cast<size_t>(b * dim), noise_shape, 2),
          Ort::Value::CreateTensor<int64_t>(memory, labels.data(), labels.size(), label_shape, 1),
          Ort::Value::CreateTensor<float>(memory, &temperature, 1, &one, 1),
      };
      auto outputs = session.Run(Ort::RunOptions{nullptr}, input_names, inputs, 3, output_names, 4);
      const float* p4 = outputs[0].GetTensorData<float>();
      const int64_t* multiplicity = outputs[1].GetTensorData<int64_t>();
      const float* jet = outputs[2].GetTensorData<float>();
      const int64_t* nparticles = outputs[3].GetTensorData<int64_t>();
      row.clear();
      if (npy) {
        const int64_t code = label;
        for (long long j = 0; j < b; ++j) {
          row.append(reinterpret_cast<const char*>(&code), sizeof code);
          row.append(reinterpret_cast<const char*>(multiplicity + j), sizeof(int64_t));
          row.append(reinterpret_cast<const char*>(nparticles + j), sizeof(int64_t));
          row.append(reinterpret_cast<const char*>(jet + 4 * j), 4 * sizeof(float));
          row.append(reinterpret_cast<const char*>(p4 + j * slots * 4), slots * 4 * sizeof(float));
        }
        out.write(row.data(), static_cast<std::streamsize>(row.size()));
        continue;
      }
      for (long long j = 0; j < b; ++j) {
        const float* jf = jet + 4 * j;
        for (long long i = 0; i < multiplicity[j]; ++i) {
          const float* p = p4 + (j * slots + i) * 4;
          const double px = p[1], py = p[2], pz = p[3];
          const double pt = std::hypot(px, py);
          const double fields[] = {jf[0], jf[1], jf[2], jf[3], static_cast<double>(i),
                                   p[0],  p[1],  p[2],  p[3],  pt,
                                   std::asinh(pz / pt), std::atan2(py, px)};
          append(row, static_cast<int64_t>(first + j));
          append(row, static_cast<int64_t>(label));
          append(row, multiplicity[j]);
          append(row, nparticles[j]);
          for (double x : fields) append(row, x);
          row.back() = '\n';
        }
      }
      out.write(row.data(), static_cast<std::streamsize>(row.size()));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.close();
    if (!out) fail(opt.output + ": write failed");
    if (std::rename(g_partial.c_str(), opt.output.c_str()) != 0) fail(opt.output + ": cannot write");
    g_partial.clear();
    std::cerr << "hepvae-sample: " << opt.n << " jets of type " << opt.type << " in " << seconds
              << " s (" << opt.n / seconds << " jets/s) -> " << opt.output << std::endl;
  } catch (const Ort::Exception& exc) {
    fail(std::string("onnxruntime: ") + exc.what());
  }
  return 0;
}
