#include "protocol/model_statistics.h"

#include "protocol/json_writer.h"

namespace ptserve {
namespace {

void AppendDuration(std::string* out, const char* name, uint64_t count, uint64_t ns) {
  out->append("\"");
  out->append(name);
  out->append("\":{\"count\":");
  AppendJsonUint(out, count);
  out->append(",\"ns\":");
  AppendJsonUint(out, ns);
  out->push_back('}');
}

}  // namespace

std::string ModelStatisticsJson(const std::vector<ModelStatistics>& stats) {
  std::string out = "{\"model_stats\":[";
  for (size_t i = 0; i < stats.size(); ++i) {
    const ModelStatistics& s = stats[i];
    if (i > 0) out.push_back(',');
    out.append("{\"name\":");
    AppendJsonString(&out, s.name);
    out.append(",\"version\":");
    AppendJsonString(&out, s.version);
    out.append(",\"last_inference\":");
    AppendJsonUint(&out, s.last_inference_ms);
    out.append(",\"inference_count\":");
    AppendJsonUint(&out, s.inference_count);
    out.append(",\"execution_count\":");
    AppendJsonUint(&out, s.execution_count);
    out.append(",\"inference_stats\":{");
    AppendDuration(&out, "success", s.success_count, s.success_ns);
    out.push_back(',');
    AppendDuration(&out, "fail", s.failure_count, s.failure_ns);
    out.push_back(',');
    AppendDuration(&out, "queue", s.success_count, s.queue_ns);
    out.push_back(',');
    AppendDuration(&out, "compute_infer", s.success_count, s.compute_ns);
    out.append("},\"batch_stats\":[");
    for (size_t b = 0; b < s.batch_stats.size(); ++b) {
      if (b > 0) out.push_back(',');
      out.append("{\"batch_size\":");
      AppendJsonUint(&out, static_cast<uint64_t>(s.batch_stats[b].batch_size));
      out.push_back(',');
      AppendDuration(&out, "compute_infer", s.batch_stats[b].count, s.batch_stats[b].compute_ns);
      out.push_back('}');
    }
    out.append("]}");
  }
  out.append("]}");
  return out;
}

}  // namespace ptserve
