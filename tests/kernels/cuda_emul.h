// A host emulator for CUDA kernels: the test double that lets an unmodified .cu file compile with
// g++ and run with CUDA's execution semantics on a machine without a GPU (tests/kernels/
// fakecupy.py generates a launcher per kernel and loads the result with ctypes).
//
// What it emulates:
//   * one fiber (ucontext) per CUDA thread of a block; the blocks of a grid run one at a time;
//   * __syncthreads(): a block barrier; __shfl_{sync,up,down,xor}_sync and __syncwarp: warp
//     exchanges over the lanes named in the mask (a lane reads the value its source lane had
//     when the whole group arrived; out-of-range lanes return their own value, as CUDA does);
//   * __shared__: static storage in one linker section, shared by the block's threads and
//     filled with 0xff bytes (NaN, -1) before every block, as shared memory is uninitialised;
//   * atomicAdd, __ldg, the index variables, the vector types (float2/4, double2, ...).
//
// Threads are scheduled deterministically: the emulator runs one thread until it reaches a
// barrier, a warp exchange or its end, then picks the next runnable thread by a policy (lowest
// index first, highest first, or a seeded random choice). Any of these is a legal CUDA schedule,
// so a correct kernel gives the same result under all of them, and a race (a missing barrier)
// shows up reproducibly. A barrier that cannot complete (a thread returned, or waits elsewhere)
// is reported as an error instead of hanging.
//
// What it cannot show: timing, memory coalescing, bank conflicts, register pressure, real warp
// lockstep, the GPU's weaker memory ordering, NVRTC's own diagnostics, bit-exact device math
// (no FMA contraction here, glibc's libm instead of CUDA's).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <math.h>  // libstdc++'s wrapper: float overloads in the global namespace, as in CUDA
#include <random>
#include <string>
#include <sys/mman.h>
#include <tuple>
#include <type_traits>
#include <ucontext.h>
#include <utility>
#include <vector>

// What NVRTC defines for device code; tick.cuh picks its CUDA branch from __CUDACC__.
#define __CUDACC__ 1
#define __CUDACC_RTC__ 1
#define __CUDA_ARCH__ 900

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#ifdef UQO_EMUL_SCAN
// fakecupy's discovery pass (g++ -E) finds the kernels and their launch bounds by these marks.
#undef __global__
#define __global__ __uqo_emul_global__
#define __launch_bounds__(...) __uqo_emul_launch_bounds__(__VA_ARGS__)
#else
#define __launch_bounds__(...)
#endif
#define __shared__ static __attribute__((section("uqo_emul_shared")))
#define __constant__ static

// --- vector and index types -------------------------------------------------------------------
struct uint3 { unsigned x, y, z; };
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3() = default;
  constexpr dim3(unsigned x_, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
static inline float2 make_float2(float x, float y) { return {x, y}; }
static inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
static inline double2 make_double2(double x, double y) { return {x, y}; }
static inline int2 make_int2(int x, int y) { return {x, y}; }
static inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

// The bounds of the __shared__ section (GNU ld defines them for sections named like identifiers).
extern "C" char __start_uqo_emul_shared[] __attribute__((visibility("hidden")));
extern "C" char __stop_uqo_emul_shared[] __attribute__((visibility("hidden")));

namespace {
namespace emul {

constexpr int kWarp = 32;
constexpr size_t kStack = 256 * 1024;   // per emulated thread; a guard page below each
constexpr size_t kPage = 4096;

enum class State { Ready, AtSync, AtWarp, Done };

struct Thread {
  ucontext_t ctx;
  State state = State::Ready;
  unsigned mask = 0;         // the lanes named by the pending warp operation
  int src = 0;               // the lane it reads from (its own lane: no exchange)
  uint64_t value = 0, result = 0;
  uint3 idx{};
};

struct Emulator {
  std::vector<Thread> threads;
  char* stacks = nullptr;
  size_t stacks_bytes = 0;
  ucontext_t scheduler;
  int current = 0, done = 0, at_sync = 0, schedule = 0;
  std::mt19937 rng;
  std::function<void()> body;
  bool failed = false;
  std::string error;
  uint3 thread_idx{}, block_idx{};
  dim3 block_dim, grid_dim;
};

Emulator g;

std::string describe_block() {
  return "block (" + std::to_string(g.block_idx.x) + "," + std::to_string(g.block_idx.y) + "," +
         std::to_string(g.block_idx.z) + ")";
}

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Stops the launch: the current thread never resumes; the launcher reports `what`.
[[noreturn]] void fault(const std::string& what) {
  if (!g.failed) {
    g.failed = true;
    g.error = what + " (" + describe_block() + ", thread " + std::to_string(g.current) + ")";
  }
  swapcontext(&g.threads[g.current].ctx, &g.scheduler);
  __builtin_unreachable();
}

void yield() { swapcontext(&g.threads[g.current].ctx, &g.scheduler); }

int n_threads() { return static_cast<int>(g.threads.size()); }

void sync_block() {
  Thread& t = g.threads[g.current];
  t.state = State::AtSync;
  if (++g.at_sync == n_threads()) {
    for (Thread& u : g.threads) u.state = State::Ready;
    g.at_sync = 0;
  }
  yield();
}

// Lanes [0, warp size) of the current thread's warp that exist (the last warp may be partial).
unsigned existing_lanes(int warp) {
  int left = n_threads() - warp * kWarp;
  return left >= kWarp ? 0xffffffffu : ((1u << left) - 1u);
}

// A warp operation: arrive with `value` and the lane to read, wait for every lane in `mask`.
uint64_t warp_exchange(unsigned mask, int src, uint64_t value) {
  int lane = g.current % kWarp, warp = g.current / kWarp, base = warp * kWarp;
  if (!(mask >> lane & 1u))
    fault("a warp operation's mask " + hex(mask) + " does not name lane " + std::to_string(lane));
  Thread& t = g.threads[g.current];
  t.state = State::AtWarp;
  t.mask = mask;
  t.src = src;
  t.value = value;
  unsigned group = mask & existing_lanes(warp);
  for (int l = 0; l < kWarp; ++l) {
    if (!(group >> l & 1u)) continue;
    const Thread& u = g.threads[base + l];
    if (u.state == State::Done)
      fault("lane " + std::to_string(l) + " returned but a warp operation names it in its mask");
    if (u.state != State::AtWarp) { yield(); return g.threads[g.current].result; }
    if (u.mask != mask) fault("lanes of one warp operation passed different masks");
  }
  for (int l = 0; l < kWarp; ++l) {   // the whole group is here: exchange, release it
    if (!(group >> l & 1u)) continue;
    Thread& u = g.threads[base + l];
    bool inside = u.src >= 0 && u.src < kWarp && (group >> u.src & 1u);
    u.result = inside ? g.threads[base + u.src].value : u.value;
    u.state = State::Ready;
  }
  yield();
  return g.threads[g.current].result;
}

template <typename T> uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffles move <= 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}

template <typename T> T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

// Source lane of a shuffle within segments of `width` lanes (CUDA's rules per variant); -1 or
// an out-of-segment lane means "return your own value".
enum class Shfl { Idx, Up, Down, Xor };

int shfl_source(Shfl kind, int arg, int width) {
  int lane = g.current % kWarp, seg = lane - lane % width;
  switch (kind) {
    case Shfl::Idx: return seg + ((arg % width) + width) % width;
    case Shfl::Up: return lane % width - arg < 0 ? lane : lane - arg;
    case Shfl::Down: return lane % width + arg >= width ? lane : lane + arg;
    case Shfl::Xor: { int s = lane ^ arg; return s >= seg + width ? lane : s; }
  }
  return lane;
}

template <typename T> T shfl(Shfl kind, unsigned mask, T v, int arg, int width) {
  if (width <= 0 || width > kWarp || (width & (width - 1)))
    fault("shuffle width " + std::to_string(width) + " is not a power of two <= 32");
  return from_bits<T>(warp_exchange(mask, shfl_source(kind, arg, width), to_bits(v)));
}

// Keeps the section present when a kernel declares no shared memory.
__attribute__((section("uqo_emul_shared"), used)) char shared_anchor[16];

void poison_shared() {
  std::memset(__start_uqo_emul_shared, 0xff, __stop_uqo_emul_shared - __start_uqo_emul_shared);
}

void thread_main() {
  g.body();
  g.threads[g.current].state = State::Done;
  ++g.done;
}   // returns to g.scheduler (uc_link)

bool prepare_stacks(int n) {
  size_t want = static_cast<size_t>(n) * (kStack + kPage);
  if (g.stacks_bytes >= want) return true;
  if (g.stacks) munmap(g.stacks, g.stacks_bytes);
  void* p = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { g.stacks = nullptr; g.stacks_bytes = 0; return false; }
  g.stacks = static_cast<char*>(p);
  g.stacks_bytes = want;
  for (int i = 0; i < n; ++i) mprotect(g.stacks + i * (kStack + kPage), kPage, PROT_NONE);
  return true;
}

int pick() {
  int n = n_threads();
  if (g.schedule == 0) {
    for (int i = 0; i < n; ++i) if (g.threads[i].state == State::Ready) return i;
  } else if (g.schedule == 1) {
    for (int i = n - 1; i >= 0; --i) if (g.threads[i].state == State::Ready) return i;
  } else {
    std::vector<int> ready;
    for (int i = 0; i < n; ++i) if (g.threads[i].state == State::Ready) ready.push_back(i);
    if (!ready.empty()) return ready[std::uniform_int_distribution<size_t>(0, ready.size() - 1)(g.rng)];
  }
  return -1;
}

std::string stuck_report() {
  int sync = 0, warp = 0;
  for (const Thread& t : g.threads) { sync += t.state == State::AtSync; warp += t.state == State::AtWarp; }
  return "deadlock: " + std::to_string(sync) + " threads wait at __syncthreads, " +
         std::to_string(warp) + " at a warp operation, " + std::to_string(g.done) +
         " returned (a barrier every thread of the block must reach, in divergent code?)";
}

bool run_block() {
  poison_shared();
  int n = n_threads();
  g.done = g.at_sync = 0;
  for (int i = 0; i < n; ++i) {
    Thread& t = g.threads[i];
    t = Thread{};
    unsigned bx = g.block_dim.x, by = g.block_dim.y;
    t.idx = {i % bx, (i / bx) % by, i / (bx * by)};
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = g.stacks + i * (kStack + kPage) + kPage;
    t.ctx.uc_stack.ss_size = kStack;
    t.ctx.uc_link = &g.scheduler;
    makecontext(&t.ctx, thread_main, 0);
  }
  while (!g.failed) {
    int i = pick();
    if (i < 0) {
      if (g.done != n) { g.failed = true; g.error = stuck_report() + " in " + describe_block(); }
      break;
    }
    g.current = i;
    g.thread_idx = g.threads[i].idx;
    swapcontext(&g.scheduler, &g.threads[i].ctx);
  }
  return !g.failed;
}

const char* check_dims(const dim3& grid, const dim3& block) {
  if (!grid.x || !grid.y || !grid.z || !block.x || !block.y || !block.z)
    return "invalid configuration: a zero grid or block dimension";
  if (block.x > 1024 || block.y > 1024 || block.z > 64 ||
      static_cast<unsigned long long>(block.x) * block.y * block.z > 1024)
    return "invalid configuration: more than 1024 threads per block";
  if (grid.y > 65535 || grid.z > 65535) return "invalid configuration: grid y/z above 65535";
  return nullptr;
}

int launch_body(const unsigned* grid3, const unsigned* block3, int schedule) {
  dim3 grid(grid3[0], grid3[1], grid3[2]), block(block3[0], block3[1], block3[2]);
  g.failed = false;
  g.error.clear();
  if (const char* bad = check_dims(grid, block)) { g.failed = true; g.error = bad; return 1; }
  int n = static_cast<int>(block.x * block.y * block.z);
  if (!prepare_stacks(n)) { g.failed = true; g.error = "out of memory for thread stacks"; return 1; }
  g.threads.assign(n, Thread{});
  g.block_dim = block;
  g.grid_dim = grid;
  g.schedule = schedule;
  g.rng.seed(static_cast<unsigned>(schedule));
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        g.block_idx = {x, y, z};
        if (!run_block()) return 1;
      }
  return 0;
}

// --- the cudaLaunchKernel-style trampoline ------------------------------------------------------
template <typename T> T load_arg(void* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T> std::string type_code() {
  if constexpr (std::is_pointer_v<T>) return "p";
  else if constexpr (std::is_same_v<T, bool>) return "b1";
  else if constexpr (std::is_integral_v<T>)
    return std::string(std::is_signed_v<T> ? "i" : "u") + std::to_string(sizeof(T));
  else if constexpr (std::is_floating_point_v<T>) return "f" + std::to_string(sizeof(T));
  else return "s" + std::to_string(sizeof(T));
}

template <typename... A, size_t... I>
int launch_with(void (*kernel)(A...), const unsigned* grid3, const unsigned* block3, void** args,
                int schedule, std::index_sequence<I...>) {
  // One copy of the parameters for the launch (the GPU's parameter buffer), read with the
  // kernel's own types: a Python value of the wrong size is read as these bytes, as on a GPU.
  std::tuple<std::remove_cv_t<A>...> params{load_arg<std::remove_cv_t<A>>(args[I])...};
  g.body = [&] { kernel(std::get<I>(params)...); };
  int rc = launch_body(grid3, block3, schedule);
  g.body = nullptr;
  return rc;
}

template <typename... A>
int launch(void (*kernel)(A...), const unsigned* grid3, const unsigned* block3, void** args,
           int schedule) {
  return launch_with(kernel, grid3, block3, args, schedule, std::index_sequence_for<A...>{});
}

template <typename... A> const char* signature(void (*)(A...)) {
  static const std::string sig = [] {
    std::string s;
    ((s += (s.empty() ? "" : " ") + type_code<std::remove_cv_t<A>>()), ...);
    return s;
  }();
  return sig.c_str();
}

}  // namespace emul
}  // namespace

#define UQO_EMUL_EXPORT extern "C" __attribute__((visibility("default")))

UQO_EMUL_EXPORT const char* uqo_emul_error() { return emul::g.error.c_str(); }

// --- what kernel code sees ----------------------------------------------------------------------
static const uint3& threadIdx = emul::g.thread_idx;
static const uint3& blockIdx = emul::g.block_idx;
static const dim3& blockDim = emul::g.block_dim;
static const dim3& gridDim = emul::g.grid_dim;
static constexpr int warpSize = emul::kWarp;

static inline void __syncthreads() { emul::sync_block(); }
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
  emul::warp_exchange(mask, -1, 0);
}
static inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
static inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

template <typename T> static inline T __shfl_sync(unsigned m, T v, int src, int w = 32) {
  return emul::shfl(emul::Shfl::Idx, m, v, src, w);
}
template <typename T> static inline T __shfl_up_sync(unsigned m, T v, unsigned d, int w = 32) {
  return emul::shfl(emul::Shfl::Up, m, v, static_cast<int>(d), w);
}
template <typename T> static inline T __shfl_down_sync(unsigned m, T v, unsigned d, int w = 32) {
  return emul::shfl(emul::Shfl::Down, m, v, static_cast<int>(d), w);
}
template <typename T> static inline T __shfl_xor_sync(unsigned m, T v, int lm, int w = 32) {
  return emul::shfl(emul::Shfl::Xor, m, v, lm, w);
}

template <typename T, typename U> static inline T atomicAdd(T* address, U v) {
  return std::atomic_ref<T>(*address).fetch_add(static_cast<T>(v));
}
template <typename T> static inline T __ldg(const T* p) { return *p; }

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
static inline float __fdividef(float a, float b) { return a / b; }
// __expf, __logf, __sinf, __cosf: glibc declares them already (the exact functions).
