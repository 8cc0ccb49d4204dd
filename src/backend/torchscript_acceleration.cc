#include "backend/torchscript_acceleration.h"

#include <ATen/autocast_mode.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "backend/dynamic_quantization.h"
#include "backend/linear_kernels.h"
#include "backend/onednn_probe.h"
#include "backend/torch_call.h"
#include "backend/torch_compat.h"

namespace ptserve {
namespace {

using torch::jit::Module;

absl::StatusOr<bool> ParseBoolValue(const std::string& key, const std::string& value) {
  const std::string v = absl::AsciiStrToLower(value);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("parameter ", key, ": '", value, "' is not a boolean (true or false)"));
}

std::string EngineName(at::QEngine engine) {
  switch (engine) {
    case at::QEngine::NoQEngine: return "none";
    case at::QEngine::FBGEMM: return "fbgemm";
    case at::QEngine::QNNPACK: return "qnnpack";
    case at::QEngine::ONEDNN: return "onednn";
    default: return "x86";
  }
}

std::string SupportedEngines() {
  std::vector<std::string> names;
  for (at::QEngine e : at::globalContext().supportedQEngines()) {
    if (e != at::QEngine::NoQEngine) names.push_back(EngineName(e));
  }
  return absl::StrJoin(names, ", ");
}

// Restores the thread's autocast state on scope exit.
class CpuAutocastGuard {
 public:
  explicit CpuAutocastGuard(at::ScalarType dtype)
      : was_enabled_(torch_compat::CpuAutocastEnabled()),
        old_dtype_(torch_compat::CpuAutocastDtype()) {
    torch_compat::SetCpuAutocast(true, dtype);
    at::autocast::increment_nesting();
  }
  ~CpuAutocastGuard() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    torch_compat::SetCpuAutocast(was_enabled_, old_dtype_);
  }
  CpuAutocastGuard(const CpuAutocastGuard&) = delete;
  CpuAutocastGuard& operator=(const CpuAutocastGuard&) = delete;

 private:
  bool was_enabled_;
  at::ScalarType old_dtype_;
};

// Floating tensors inside `v` (tensor, tuple, list, dict values) as fp32.
c10::IValue FloatsToFp32(const c10::IValue& v) {
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    return t.is_floating_point() && t.scalar_type() != at::kFloat ? t.to(at::kFloat) : t;
  }
  if (v.isTuple()) {
    std::vector<c10::IValue> elements;
    for (const c10::IValue& e : v.toTupleRef().elements()) elements.push_back(FloatsToFp32(e));
    return c10::ivalue::Tuple::create(std::move(elements));
  }
  if (v.isTensorList()) {
    c10::List<at::Tensor> out;
    for (const at::Tensor& t : v.toTensorVector()) out.push_back(FloatsToFp32(t).toTensor());
    return out;
  }
  if (v.isGenericDict()) {
    c10::impl::GenericDict in = v.toGenericDict();
    c10::impl::GenericDict out(in.keyType(), in.valueType());
    for (const auto& entry : in) out.insert(entry.key(), FloatsToFp32(entry.value()));
    return out;
  }
  return v;
}

void FlattenTensors(const c10::IValue& v, std::vector<at::Tensor>& out) {
  if (v.isTensor()) {
    out.push_back(v.toTensor());
  } else if (v.isTuple()) {
    for (const c10::IValue& e : v.toTupleRef().elements()) FlattenTensors(e, out);
  } else if (v.isList()) {
    for (const c10::IValue& e : v.toListRef()) FlattenTensors(e, out);
  } else if (v.isGenericDict()) {
    for (const auto& entry : v.toGenericDict()) FlattenTensors(entry.value(), out);
  }
}

// How close a candidate must stay to the original module.
struct Tolerance {
  // Elementwise |y - r| <= atol * max(1, max|r|) + rtol * |r| (exact levers),
  // or, when relative_l2 > 0, ||y - r|| / ||r|| <= relative_l2 (infinite: structure only).
  double atol = 1e-4;
  double rtol = 1e-4;
  double relative_l2 = 0;
};

// Empty when `outs` match `refs` within `tol`; else what differs.
std::string Deviation(const std::vector<std::vector<at::Tensor>>& refs,
                      const std::vector<std::vector<at::Tensor>>& outs, const Tolerance& tol) {
  for (size_t s = 0; s < refs.size(); ++s) {
    if (outs[s].size() != refs[s].size()) {
      return absl::StrCat("returns ", outs[s].size(), " tensors instead of ", refs[s].size());
    }
    for (size_t i = 0; i < refs[s].size(); ++i) {
      const at::Tensor& r = refs[s][i];
      const at::Tensor& y = outs[s][i];
      if (r.sizes() != y.sizes()) {
        return absl::StrCat("output ", i, " has shape ", c10::str(y.sizes()), " instead of ",
                            c10::str(r.sizes()));
      }
      if (!r.is_floating_point()) {
        if (!r.equal(y.to(r.scalar_type()))) return absl::StrCat("output ", i, " differs");
        continue;
      }
      const at::Tensor rf = r.to(at::kDouble);
      const at::Tensor yf = y.to(at::kDouble);
      if (!yf.isfinite().all().item<bool>() && rf.isfinite().all().item<bool>()) {
        return absl::StrCat("output ", i, " has non-finite values");
      }
      const at::Tensor diff = (yf - rf).abs();
      if (tol.relative_l2 > 0) {
        const double rel = diff.norm().item<double>() / std::max(rf.norm().item<double>(), 1e-30);
        if (rel > tol.relative_l2) {
          return absl::StrFormat("output %d differs by %.3g relative (L2; tolerance %.3g)", i, rel,
                                 tol.relative_l2);
        }
      } else {
        const double scale = std::max(1.0, rf.abs().max().item<double>());
        const at::Tensor excess = diff - (tol.atol * scale + tol.rtol * rf.abs());
        if (excess.numel() > 0 && excess.max().item<double>() > 0) {
          return absl::StrFormat("output %d differs by up to %.3g (tolerance %.3g + %.3g x |value|)",
                                 i, diff.max().item<double>(), tol.atol * scale, tol.rtol);
        }
      }
    }
  }
  return "";
}

// The largest relative L2 difference ||y - r|| / ||r|| over samples and
// floating-point outputs (integer outputs: the fraction of elements that
// differ). Call after Deviation() found the shapes equal.
double RelativeDifference(const std::vector<std::vector<at::Tensor>>& refs,
                          const std::vector<std::vector<at::Tensor>>& outs) {
  double worst = 0;
  for (size_t s = 0; s < refs.size() && s < outs.size(); ++s) {
    for (size_t i = 0; i < refs[s].size() && i < outs[s].size(); ++i) {
      const at::Tensor& r = refs[s][i];
      const at::Tensor& y = outs[s][i];
      if (r.numel() == 0 || r.sizes() != y.sizes()) continue;
      double d = 0;
      if (r.is_floating_point()) {
        const at::Tensor rf = r.to(at::kDouble);
        const at::Tensor yf = y.to(at::kDouble);
        d = (yf - rf).norm().item<double>() / std::max(rf.norm().item<double>(), 1e-30);
      } else {
        d = r.ne(y.to(r.scalar_type())).to(at::kDouble).mean().item<double>();
      }
      if (std::isnan(d) || d > worst) worst = d;
      if (std::isnan(d)) return d;
    }
  }
  return worst;
}

bool IsFrozen(const Module& m) { return !m._ivalue()->type()->hasAttribute("training"); }

Module Freeze(const Module& m) { return IsFrozen(m) ? m.deepcopy() : torch::jit::freeze(m); }

bool HasQuantizedOps(const Module& module) {
  std::function<bool(torch::jit::Block*)> scan = [&](torch::jit::Block* block) {
    for (torch::jit::Node* n : block->nodes()) {
      if (absl::StartsWith(n->kind().toQualString(), "quantized::")) return true;
      for (torch::jit::Block* b : n->blocks()) {
        if (scan(b)) return true;
      }
    }
    return false;
  };
  for (const auto& sub : module.modules()) {
    for (const auto& method : sub.get_methods()) {
      if (scan(method.graph()->block())) return true;
    }
  }
  return false;
}

// `args` with `batch` rows: dimension 0 of each tensor cut or repeated.
std::vector<c10::IValue> AtBatch(const std::vector<c10::IValue>& args, int64_t batch) {
  std::vector<c10::IValue> out;
  for (const c10::IValue& a : args) {
    if (a.isTensor() && a.toTensor().dim() > 0 && a.toTensor().size(0) > 0) {
      const at::Tensor& t = a.toTensor();
      out.emplace_back(t.index_select(0, at::arange(batch, at::kLong).remainder(t.size(0))));
    } else {
      out.push_back(a);
    }
  }
  return out;
}

// The p50 microseconds of forward() on `args` for `a` and for `b`, their runs
// interleaved so that drift (clock frequency, other load) hits both alike.
// Bounded: at most 41 runs each and about 40 ms in all, after 3 warm-up runs.
std::pair<double, double> InterleavedP50Us(AcceleratedModule& a, AcceleratedModule& b,
                                           const std::vector<c10::IValue>& args) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i) {
    RunAccelerated(a, args);
    RunAccelerated(b, args);
  }
  auto time = [&](AcceleratedModule& m) {
    const auto t0 = Clock::now();
    RunAccelerated(m, args);
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  };
  std::vector<double> ta, tb;
  const auto end = Clock::now() + std::chrono::milliseconds(40);
  while (ta.size() < 41 && (ta.size() < 5 || Clock::now() < end)) {
    ta.push_back(time(a));
    tb.push_back(time(b));
  }
  auto p50 = [](std::vector<double>& t) {
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    return t[t.size() / 2];
  };
  return {p50(ta), p50(tb)};
}

// The gemv path is kept at a batch size only when its p50 is at most this
// fraction of the default's: load-time timings are short and noisy.
constexpr double kGemvMargin = 0.9;

struct Candidate {
  std::string description;
  Tolerance tolerance;                       // for the default OPTIMIZE only
  std::function<AcceleratedModule()> build;  // may throw
  bool requested = false;  // an explicit lever: served unless not finite (or past the gate)
};

// An fp32 candidate with the Linear kernel LINEAR_KERNEL asks for. `build(gemv)`
// makes the candidate, its constant-weight Linear layers rewritten to
// ptserve::linear when `gemv` (any max_gemv_rows: set here). AUTO times both
// on the first sample at batch 1, 2, 4, 8 (batched models; else as it is) and
// keeps gemv up to the last batch size, from 1, where it is clearly faster,
// after checking its outputs there against the default's (exact tolerance: the
// candidate loop checks only the samples' batch size).
AcceleratedModule WithLinearKernel(const std::function<AcceleratedModule(bool gemv)>& build,
                                   const AccelerationOptions& options,
                                   const std::vector<std::vector<c10::IValue>>& samples) {
  AcceleratedModule base = build(false);
  if (options.linear_kernel == LinearKernel::kDefault) return base;
  auto keep_base = [&base](std::string why) {
    base.notes.push_back(absl::StrCat("LINEAR_KERNEL: default kernel kept: ", why));
    return std::move(base);
  };
  const bool forced = options.linear_kernel == LinearKernel::kGemv;
  AcceleratedModule gemv;
  std::shared_ptr<torch::jit::Graph> graph;
  int layers = 0;
  try {
    gemv = build(true);
    graph = gemv.module.get_method("forward").graph();
    layers = SetMaxGemvRows(graph, kForcedGemvRows);
  } catch (const std::exception& e) {
    return keep_base(
        absl::StrCat("the gemv rewrite failed (", ShortTorchError(e.what(), 300), ")"));
  }
  if (layers == 0) {
    if (!forced) return base;  // nothing to decide
    return keep_base("no Linear layer with constant fp32 weights");
  }
  if (forced) {
    gemv.description = absl::StrCat(base.description, " + gemv Linear (", layers,
                                    " layers, batch <= ", kForcedGemvRows, ", LINEAR_KERNEL GEMV)");
    gemv.gemv_rows = kForcedGemvRows;
    return gemv;
  }
  if (samples.empty()) return base;  // nothing to measure on (the default OPTIMIZE needs samples)

  SetMaxGemvRows(graph, kMaxMeasuredGemvRows);
  std::vector<int64_t> batches{0};  // 0: the sample as it is
  if (options.batched) batches = {1, 2, 4, 8};
  int64_t rows = 0;
  std::string timing;
  try {
    for (int64_t batch : batches) {
      const std::vector<c10::IValue> args =
          batch > 0 ? AtBatch(samples.front(), batch) : samples.front();
      std::vector<std::vector<at::Tensor>> refs(1), outs(1);
      FlattenTensors(RunAccelerated(base, args), refs[0]);
      FlattenTensors(RunAccelerated(gemv, args), outs[0]);
      if (std::string d = Deviation(refs, outs, Tolerance()); !d.empty()) {
        return keep_base(absl::StrCat("gemv Linear at batch ", batch, ": ", d));
      }
      const auto [base_us, gemv_us] = InterleavedP50Us(base, gemv, args);
      if (timing.empty()) {
        timing = absl::StrFormat("%s%.0f vs %.0f us at load", batch > 0 ? "batch 1: " : "", gemv_us,
                                 base_us);
      }
      if (!(gemv_us <= kGemvMargin * base_us)) break;
      rows = batch > 0 ? batch : kMaxMeasuredGemvRows;
    }
  } catch (const std::exception& e) {
    return keep_base(
        absl::StrCat("gemv Linear failed at load (", ShortTorchError(e.what(), 300), ")"));
  }
  if (rows == 0) return base;
  SetMaxGemvRows(graph, rows);
  gemv.description = absl::StrCat(base.description, " + gemv Linear (", layers,
                                  " layers, batch <= ", rows, "; ", timing, ")");
  gemv.gemv_rows = rows;
  return gemv;
}

}  // namespace

absl::StatusOr<AccelerationOptions> ParseAccelerationOptions(
    const std::vector<std::pair<std::string, std::string>>& parameters) {
  AccelerationOptions o;
  for (const auto& [key, raw] : parameters) {
    const std::string value = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(raw));
    if (key == "OPTIMIZE") {
      auto b = ParseBoolValue(key, raw);
      if (!b.ok()) return b.status();
      o.optimize = *b;
    } else if (key == "INFERENCE_MODE") {
      auto b = ParseBoolValue(key, raw);
      if (!b.ok()) return b.status();
      o.inference_mode = *b;
    } else if (key == "PRECISION") {
      if (value == "FP32") {
        o.precision = Precision::kFp32;
      } else if (value == "BF16") {
        o.precision = Precision::kBf16;
      } else if (value == "FP16") {
        o.precision = Precision::kFp16;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("parameter PRECISION: '", raw, "' is not one of FP32, BF16, FP16"));
      }
    } else if (key == "QUANTIZATION") {
      if (value == "NONE") {
        o.quantization = Quantization::kNone;
      } else if (value == "DYNAMIC_INT8") {
        o.quantization = Quantization::kDynamicInt8;
      } else if (value == "STATIC_INT8") {
        o.quantization = Quantization::kStaticInt8;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "parameter QUANTIZATION: '", raw, "' is not one of NONE, DYNAMIC_INT8, STATIC_INT8"));
      }
    } else if (key == "ACCURACY_TOLERANCE") {
      double tol = 0;
      if (!absl::SimpleAtod(absl::StripAsciiWhitespace(raw), &tol) || !std::isfinite(tol) ||
          tol < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("parameter ACCURACY_TOLERANCE: '", raw,
                         "' is not a non-negative number (a relative L2 difference, e.g. 0.05)"));
      }
      o.accuracy_tolerance = tol;
    } else if (key == "QUANTIZED_ENGINE") {
      const std::string engine = absl::AsciiStrToLower(absl::StripAsciiWhitespace(raw));
      if (engine != "onednn" && engine != "qnnpack" && engine != "fbgemm") {
        return absl::InvalidArgumentError(absl::StrCat(
            "parameter QUANTIZED_ENGINE: '", raw, "' is not one of onednn, qnnpack, fbgemm"));
      }
      o.quantized_engine = engine;
    } else if (key == "LINEAR_KERNEL") {
      if (value == "AUTO") {
        o.linear_kernel = LinearKernel::kAuto;
      } else if (value == "GEMV") {
        o.linear_kernel = LinearKernel::kGemv;
      } else if (value == "DEFAULT") {
        o.linear_kernel = LinearKernel::kDefault;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("parameter LINEAR_KERNEL: '", raw, "' is not one of AUTO, GEMV, DEFAULT"));
      }
    }
  }
  if (o.precision == Precision::kFp16) {
    return absl::InvalidArgumentError(
        "parameter PRECISION: FP16 needs a CUDA device and this build runs on the CPU; use BF16 "
        "(CPU autocast / bf16 weights) or FP32");
  }
  if (o.precision == Precision::kBf16 && o.quantization != Quantization::kNone) {
    return absl::InvalidArgumentError(
        "parameters PRECISION BF16 and QUANTIZATION int8 cannot be combined: choose one");
  }
  if (o.quantization == Quantization::kDynamicInt8 && o.optimize == false) {
    return absl::InvalidArgumentError(
        "parameter QUANTIZATION DYNAMIC_INT8 needs OPTIMIZE true: the Linear weights are "
        "quantized in the frozen graph");
  }
  if (o.linear_kernel == LinearKernel::kGemv && o.optimize == false) {
    return absl::InvalidArgumentError(
        "parameter LINEAR_KERNEL GEMV needs OPTIMIZE true: the Linear layers rewritten are those "
        "whose weights are constants of the frozen graph");
  }
  return o;
}

absl::Status SelectQuantizedEngine(const AccelerationOptions& options) {
  if (options.quantized_engine.empty()) return absl::OkStatus();
  for (at::QEngine e : at::globalContext().supportedQEngines()) {
    if (EngineName(e) == options.quantized_engine) {
      at::globalContext().setQEngine(e);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("parameter QUANTIZED_ENGINE: '",
                                                 options.quantized_engine,
                                                 "' is not built into this libtorch (it has: ",
                                                 SupportedEngines(), ")"));
}

c10::IValue RunAccelerated(AcceleratedModule& m, std::vector<c10::IValue> args) {
  std::optional<c10::InferenceMode> inference;
  std::optional<torch::NoGradGuard> no_grad;
  if (m.inference_mode) {
    inference.emplace();
  } else {
    no_grad.emplace();
  }
  switch (m.mode) {
    case RunMode::kPlain:
      return m.module.forward(std::move(args));
    case RunMode::kBf16Weights:
      for (c10::IValue& a : args) {
        if (a.isTensor() && a.toTensor().scalar_type() == at::kFloat) {
          a = a.toTensor().to(at::kBFloat16);
        }
      }
      return FloatsToFp32(m.module.forward(std::move(args)));
    case RunMode::kBf16Autocast: {
      CpuAutocastGuard autocast(at::kBFloat16);
      c10::IValue out = m.module.forward(std::move(args));
      return FloatsToFp32(out);
    }
  }
  return c10::IValue();
}

absl::StatusOr<AcceleratedModule> Accelerate(const Module& original,
                                             const AccelerationOptions& options,
                                             const std::vector<std::vector<c10::IValue>>& samples) {
  AcceleratedModule plain;
  plain.module = original;
  plain.inference_mode = options.inference_mode;
  plain.description = "as loaded";
  const bool quantized = HasQuantizedOps(original);
  if (quantized) {
    // Made by tools/ptserve-optimize (or torch.ao.quantization): already
    // frozen and packed for the engine selected before it was loaded.
    plain.description = "as loaded (an int8 model)";
    if (options.precision == Precision::kBf16) {
      plain.notes.push_back("PRECISION BF16 ignored: the model is already int8");
    }
    return plain;
  }
  if (options.quantization == Quantization::kStaticInt8) {
    return absl::InvalidArgumentError(
        "parameter QUANTIZATION STATIC_INT8: the model has no quantized operators. Static int8 "
        "needs calibration data: make a quantized version with tools/ptserve-optimize "
        "(--write-best or --write static_int8), which writes its config");
  }
  const bool explicit_optimize = options.optimize.value_or(false);
  const bool optimize = options.optimize.value_or(!samples.empty());
  const bool reduced = options.precision == Precision::kBf16 ||
                       options.quantization == Quantization::kDynamicInt8;
  if (!optimize && !reduced) {
    if (!options.optimize.has_value()) {
      plain.notes.push_back("OPTIMIZE skipped: the config gives no input shapes to check the "
                            "optimised module against the original on (set OPTIMIZE true to "
                            "apply it unchecked)");
    }
    return plain;
  }

  // The default OPTIMIZE's fp32 rewrites must stay within the integration tests' 1e-4;
  // requested levers are checked for finiteness only (and ACCURACY_TOLERANCE).
  const Tolerance exact;

  // The gemv rewrite goes before optimize_for_inference, which turns aten::linear into
  // aten::matmul on a transposed weight.
  auto frozen_ofi = [&original](bool gemv) {
    Module m = Freeze(original);
    if (gemv) RewriteLinearsToGemv(m.get_method("forward").graph(), kMaxMeasuredGemvRows);
    torch::jit::optimize_for_inference(m);
    return m;
  };
  auto frozen = [&original](bool gemv) {
    Module m = Freeze(original);
    if (gemv) RewriteLinearsToGemv(m.get_method("forward").graph(), kMaxMeasuredGemvRows);
    return m;
  };
  // What a candidate serves.
  auto serve = [&options](Module m, RunMode mode, std::string description,
                          std::vector<std::string> notes = {}) {
    AcceleratedModule a;
    a.module = std::move(m);
    a.mode = mode;
    a.inference_mode = options.inference_mode;
    a.description = std::move(description);
    a.notes = std::move(notes);
    return a;
  };
  std::vector<Candidate> candidates;
  auto add = [&candidates](std::string description, Tolerance tolerance, bool requested,
                           std::function<AcceleratedModule()> build) {
    candidates.push_back({std::move(description), tolerance, std::move(build), requested});
  };
  if (options.quantization == Quantization::kDynamicInt8) {
    add("frozen + dynamic int8", exact, /*requested=*/true, [&] {
      Module m = Freeze(original);
      const DynamicQuantizationCount n = QuantizeDynamicInt8(m.get_method("forward").graph());
      if (n.total() == 0) {
        throw std::runtime_error("no Linear or LSTM layer with constant fp32 weights to quantize");
      }
      return serve(
          m, RunMode::kPlain,
          absl::StrCat("frozen + dynamic int8 (", n.linear, " Linear, ", n.lstm,
                       " LSTM layers, engine ", EngineName(at::globalContext().qEngine()), ")"));
    });
  }
  if (options.precision == Precision::kBf16) {
    add("bf16 weights", exact, /*requested=*/true, [&] {
      Module m = original.deepcopy();
      m.to(at::kBFloat16);
      if (optimize) m = torch::jit::freeze(m);
      return serve(m, RunMode::kBf16Weights, optimize ? "frozen, bf16 weights" : "bf16 weights");
    });
    add("bf16 autocast", exact, /*requested=*/true, [&] {
      return serve(optimize ? Freeze(original) : original, RunMode::kBf16Autocast,
                   optimize ? "frozen, CPU autocast bf16" : "CPU autocast bf16");
    });
  }
  const size_t reduced_candidates = candidates.size();
  if (optimize) {
    // optimize_for_inference moves convolutions to oneDNN's layout; where oneDNN crashes (a
    // signal, not an exception: see onednn_probe.h) that candidate would kill the server.
    const std::string& onednn = OneDnnFailure();
    if (onednn.empty()) {
      add("frozen + optimize_for_inference", exact, explicit_optimize, [&] {
        return WithLinearKernel(
            [&](bool gemv) {
              return serve(frozen_ofi(gemv), RunMode::kPlain, "frozen + optimize_for_inference");
            },
            options, samples);
      });
    }
    add("frozen", exact, explicit_optimize, [&] {
      std::vector<std::string> notes;
      if (!onednn.empty()) {
        notes.push_back(absl::StrCat(
            "optimize_for_inference skipped: oneDNN does not work on this CPU (", onednn, ")"));
      }
      return WithLinearKernel(
          [&](bool gemv) { return serve(frozen(gemv), RunMode::kPlain, "frozen", notes); }, options,
          samples);
    });
  }

  // The original's outputs on the samples: what every candidate must match.
  std::vector<std::vector<at::Tensor>> refs;
  std::string no_check;
  if (samples.empty()) {
    no_check = "the config gives no input shapes to check it on";
  } else {
    try {
      for (const auto& args : samples) {
        refs.emplace_back();
        FlattenTensors(RunAccelerated(plain, args), refs.back());
      }
    } catch (const std::exception& e) {
      refs.clear();
      no_check = absl::StrCat("the original model fails on generated sample inputs (",
                              ShortTorchError(e.what(), 300), ")");
    }
  }

  Tolerance structural;  // shapes, integer outputs and finiteness only
  structural.relative_l2 = std::numeric_limits<double>::infinity();
  std::vector<std::string> dropped;
  bool gated = false;  // a requested lever exceeded ACCURACY_TOLERANCE
  for (size_t index = 0; index < candidates.size(); ++index) {
    Candidate& c = candidates[index];
    // A reduced-precision lever refused by the gate is not replaced by fp32.
    if (gated && index >= reduced_candidates) break;
    try {
      AcceleratedModule m = c.build();
      if (refs.empty()) {
        m.notes.push_back(absl::StrCat(m.description, " applied unchecked: ", no_check));
      } else {
        std::vector<std::vector<at::Tensor>> outs;
        for (const auto& args : samples) {
          outs.emplace_back();
          FlattenTensors(RunAccelerated(m, args), outs.back());
        }
        std::string deviation = Deviation(refs, outs, c.requested ? structural : c.tolerance);
        const double difference = deviation.empty() ? RelativeDifference(refs, outs) : 0;
        if (deviation.empty() && c.requested && options.accuracy_tolerance &&
            !(difference <= *options.accuracy_tolerance)) {
          deviation = absl::StrFormat(
              "outputs differ by %.3g relative (L2), beyond "
              "ACCURACY_TOLERANCE %.3g",
              difference, *options.accuracy_tolerance);
          gated = true;
        }
        if (!deviation.empty()) {
          dropped.push_back(absl::StrCat(c.description, ": ", deviation));
          continue;
        }
        m.difference = difference;
        if (c.requested) {
          m.notes.push_back(absl::StrFormat(
              "%s: outputs differ from the original's by %.3g relative (L2) on %d load-time "
              "sample(s)%s",
              m.description, difference, static_cast<int>(samples.size()),
              options.accuracy_tolerance
                  ? absl::StrFormat(" (ACCURACY_TOLERANCE %.3g)", *options.accuracy_tolerance)
                  : std::string(" (set ACCURACY_TOLERANCE to refuse more)")));
        }
      }
      for (const std::string& d : dropped) {
        m.notes.push_back(absl::StrCat("acceleration fell back: ", d));
      }
      return m;
    } catch (const c10::Error& e) {
      dropped.push_back(absl::StrCat(c.description, ": ", ShortTorchError(e.what_without_backtrace(), 300)));
    } catch (const std::exception& e) {
      dropped.push_back(absl::StrCat(c.description, ": ", ShortTorchError(e.what(), 300)));
    }
  }
  if (gated) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the requested acceleration is less accurate than the config allows: ",
        absl::StrJoin(dropped, "; "), ". Raise ACCURACY_TOLERANCE or remove the lever"));
  }
  if (!refs.empty()) plain.difference = 0;
  for (const std::string& d : dropped) {
    plain.notes.push_back(absl::StrCat("acceleration fell back: ", d));
  }
  if (!dropped.empty() && !explicit_optimize && !reduced) {
    plain.notes.push_back("serving the module as loaded (set OPTIMIZE false to skip the attempt)");
  } else if (!dropped.empty()) {
    plain.notes.push_back("serving the module as loaded, in fp32");
  }
  return plain;
}

}  // namespace ptserve
