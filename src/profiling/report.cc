#include "profiling/report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "protocol/json_writer.h"

namespace ptserve::profiling {
namespace {

// Trace timestamps to the nanosecond: enough, and short in the JSON.
double Round(double us) { return std::round(us * 1000.0) / 1000.0; }

void AppendCompleteEvent(std::string* out, std::string_view name, std::string_view category,
                         uint64_t thread, double ts, double dur) {
  out->append("{\"ph\":\"X\",\"pid\":1,\"tid\":");
  AppendJsonUint(out, thread);
  out->append(",\"name\":");
  AppendJsonString(out, name);
  out->append(",\"cat\":");
  AppendJsonString(out, category);
  out->append(",\"ts\":");
  AppendJsonDouble(out, Round(ts));
  out->append(",\"dur\":");
  AppendJsonDouble(out, Round(std::max(dur, 0.0)));
}

// Adds each event's self and total time to `by_name`. Ranges of one thread
// nest, so a stack per thread finds each event's parent: self time is its
// duration minus its direct children's.
void Accumulate(const ExecutionTrace& execution, std::map<std::string, OperatorStats>* by_name) {
  std::vector<const OperatorEvent*> sorted;
  sorted.reserve(execution.events.size());
  for (const OperatorEvent& e : execution.events) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const OperatorEvent* a, const OperatorEvent* b) {
    if (a->thread != b->thread) return a->thread < b->thread;
    if (a->start_us != b->start_us) return a->start_us < b->start_us;
    return a->end_us > b->end_us;  // the enclosing one first
  });
  struct Open {
    const OperatorEvent* event;
    double children_us;
  };
  std::vector<Open> stack;
  std::map<std::string_view, int> open_by_name;  // for recursive operators
  auto close = [&] {
    const Open& top = stack.back();
    const double duration = top.event->end_us - top.event->start_us;
    OperatorStats& stats = (*by_name)[top.event->name];
    stats.self_us += std::max(duration - top.children_us, 0.0);
    if (--open_by_name[top.event->name] == 0) stats.total_us += duration;
    stack.pop_back();
  };
  for (size_t i = 0; i < sorted.size(); ++i) {
    const OperatorEvent* e = sorted[i];
    if (!stack.empty() && stack.back().event->thread != e->thread) {
      while (!stack.empty()) close();
    }
    while (!stack.empty() && stack.back().event->end_us <= e->start_us) close();
    if (!stack.empty()) stack.back().children_us += e->end_us - e->start_us;
    OperatorStats& stats = (*by_name)[e->name];
    stats.name = e->name;
    ++stats.calls;
    ++open_by_name[e->name];
    stack.push_back({e, 0});
  }
  while (!stack.empty()) close();
}

}  // namespace

ProfileReport BuildReport(int requested, bool timed_out, const std::string& process_name,
                          const std::vector<ExecutionTrace>& executions) {
  ProfileReport report;
  report.requested = requested;
  report.executions = static_cast<int>(executions.size());
  report.timed_out = timed_out;

  std::map<std::string, OperatorStats> by_name;
  double base = std::numeric_limits<double>::infinity();
  for (const ExecutionTrace& execution : executions) {
    report.total_us += execution.end_us - execution.start_us;
    base = std::min(base, execution.start_us);
    Accumulate(execution, &by_name);
  }
  for (auto& [name, stats] : by_name) {
    report.operator_us += stats.self_us;
    report.operators.push_back(std::move(stats));
  }
  for (OperatorStats& stats : report.operators) {
    stats.self_share = report.operator_us > 0 ? stats.self_us / report.operator_us : 0;
  }
  std::stable_sort(report.operators.begin(), report.operators.end(),
                   [](const OperatorStats& a, const OperatorStats& b) {
                     return a.self_us > b.self_us;
                   });

  std::string& out = report.trace_json;
  out = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
  out.append("{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":");
  AppendJsonString(&out, process_name);
  out.append("}}");
  std::set<uint64_t> threads;
  for (size_t i = 0; i < executions.size(); ++i) {
    const ExecutionTrace& execution = executions[i];
    threads.insert(execution.thread);
    out.push_back(',');
    AppendCompleteEvent(&out, "execution", "execution", execution.thread,
                        execution.start_us - base, execution.end_us - execution.start_us);
    out.append(",\"args\":{\"execution\":");
    AppendJsonUint(&out, i + 1);
    if (execution.batch_size > 0) {
      out.append(",\"batch_size\":");
      AppendJsonInt(&out, execution.batch_size);
    }
    out.append("}}");
    for (const OperatorEvent& e : execution.events) {
      threads.insert(e.thread);
      out.push_back(',');
      AppendCompleteEvent(&out, e.name, "cpu_op", e.thread, e.start_us - base,
                          e.end_us - e.start_us);
      out.push_back('}');
    }
  }
  for (uint64_t thread : threads) {
    out.append(",{\"ph\":\"M\",\"pid\":1,\"tid\":");
    AppendJsonUint(&out, thread);
    out.append(",\"name\":\"thread_name\",\"args\":{\"name\":");
    AppendJsonString(&out, "libtorch thread " + std::to_string(thread));
    out.append("}}");
  }
  out.append("]}");
  return report;
}

}  // namespace ptserve::profiling
