// jemalloc's defaults for ptserve, compiled into executables linked with
// jemalloc (CMake: ptserve_use_jemalloc). The MALLOC_CONF environment
// variable still overrides any of them.
//
// - oversize_threshold:0 — no dedicated arena for allocations over 8 MB.
//   That arena returns memory at once (no decay), so every batch's large
//   activations (ResNet-18 at batch 32: ~100 MB tensors) were mapped and
//   page-faulted afresh: served ResNet-18 at 47.5-48.0 img/s vs 54.4 with
//   this setting (glibc: 48.5-52.8), measured side by side.
// - background_thread:true — unused dirty pages go back to the system over
//   time (decay) from a jemalloc thread, not on the serving threads.
extern "C" {
// NOLINTNEXTLINE: the name and type jemalloc looks up.
const char* malloc_conf = "oversize_threshold:0,background_thread:true";
}
