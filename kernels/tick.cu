// CUDA kernels of the agent tick: one thread per cell, the whole tick in registers (tick.cuh),
// diagnostics written once, fleet aggregates by one block reduction + one atomicAdd per block.
// Loaded by uqo.kernels.cupy_tick (cupy.RawModule, NVRTC); tests compile it with nvcc and NVRTC
// and run it under a host emulator.
//
// Launch configuration, fixed at compile time (uqo.kernels.cupy_tick.CudaConfig passes -D):
//   UQO_THREADS     threads per block (a multiple of 32, at most 1024)
//   UQO_MIN_BLOCKS  __launch_bounds__ minimum resident blocks per SM: higher caps the registers
//                   per thread (occupancy against spills; the pair kernel wants ~248 unbounded)
//   UQO_STAGE       1: pair cells move between global and shared memory in coalesced 16-byte
//                   chunks (a warp reads contiguous memory) and each thread then works on its
//                   cell in shared memory; 0: each thread reads its own 128-byte cell directly
#include "tick.cuh"

#ifndef UQO_THREADS
#define UQO_THREADS 128
#endif
#ifndef UQO_MIN_BLOCKS
#define UQO_MIN_BLOCKS 1
#endif
#ifndef UQO_STAGE
#define UQO_STAGE 0
#endif

namespace {

// Block-wide sum of `v` into `*dst` (one atomicAdd per block). blockDim.x is a multiple of 32.
__device__ void block_sum_add(double v, double* dst) {
  __shared__ double warp_sums[32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < (int)(blockDim.x >> 5) ? warp_sums[lane] : 0.0;
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    if (lane == 0) atomicAdd(dst, v);
  }
  __syncthreads();
}

}  // namespace

// Pair cells. rho: (n, 4, 4) complex64 (16-byte aligned when UQO_STAGE); s_cell: (n,) float64,
// updated to the new cell entropy; params: nine (n,) float32 arrays (p_a, p_b, q_a, q_b, g_a, g_b,
// c, r_a, r_b) packed as params[k * n + i]; (ph_re, ph_im) = coupling_phase(J dt); out: (9, ld)
// float32 diagnostics; agg: 5 float64 sums over the cells with live[i] != 0 (npurity, leak, mi,
// concurrence, cells), to be zeroed by the caller. Launch with blockDim.x == UQO_THREADS.
extern "C" __global__ void __launch_bounds__(UQO_THREADS, UQO_MIN_BLOCKS)
uqo_tick_pairs(uqo::c64* rho, double* s_cell, const float* params, const unsigned char* live,
               int n, float ph_re, float ph_im, double theta0, float* out, long long ld,
               double* agg) {
  int first = blockIdx.x * blockDim.x, i = first + threadIdx.x;
  double d[uqo::N_PAIR_DIAG] = {0};
  bool ok = i < n && live[i];
#if UQO_STAGE
  // 8 float4 per cell plus one of padding: thread t's cell starts at word 36 t, so the eight
  // threads of one shared-memory phase hit distinct banks.
  __shared__ float4 tile[UQO_THREADS * 9];
  float4* g = reinterpret_cast<float4*>(rho) + 8LL * first;
  int chunks = 8 * (n - first < (int)blockDim.x ? n - first : (int)blockDim.x);
  for (int k = threadIdx.x; k < chunks; k += blockDim.x) tile[(k >> 3) * 9 + (k & 7)] = g[k];
  __syncthreads();
  uqo::c64* cell = reinterpret_cast<uqo::c64*>(tile + 9 * threadIdx.x);
#else
  uqo::c64* cell = rho + 16LL * i;
#endif
  if (i < n) {
    uqo::PairIn in = {params[i], params[n + i], params[2 * n + i], params[3 * n + i],
                      params[4 * n + i], params[5 * n + i], params[6 * n + i],
                      params[7 * n + i], params[8 * n + i]};
    uqo::pair_cell_ph(cell, s_cell[i], in, {ph_re, ph_im}, theta0, d);
    s_cell[i] = d[uqo::S_CELL];
    for (int k = 0; k < uqo::N_PAIR_DIAG; ++k) out[k * ld + i] = (float)d[k];
  }
#if UQO_STAGE
  __syncthreads();
  for (int k = threadIdx.x; k < chunks; k += blockDim.x) g[k] = tile[(k >> 3) * 9 + (k & 7)];
#endif
  block_sum_add(ok ? d[uqo::NPUR] : 0.0, agg + 0);
  block_sum_add(ok ? d[uqo::LEAK] : 0.0, agg + 1);
  block_sum_add(ok ? d[uqo::MI] : 0.0, agg + 2);
  block_sum_add(ok ? d[uqo::CONC] : 0.0, agg + 3);
  block_sum_add(ok ? 1.0 : 0.0, agg + 4);
}

// Single cells. rho: (n, 2, 2) complex64; params: four (n,) float32 (p, q, g, r) packed;
// out: (4, ld) float32; agg: 3 float64 sums over live cells (npurity, leak, cells).
extern "C" __global__ void __launch_bounds__(UQO_THREADS, UQO_MIN_BLOCKS)
uqo_tick_singles(uqo::c64* rho, double* s_cell, const float* params, const unsigned char* live,
                 int n, double theta0, float* out, long long ld, double* agg) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  double d[uqo::N_SINGLE_DIAG] = {0};
  bool ok = i < n && live[i];
  if (i < n) {
    uqo::single_cell(rho + 4LL * i, s_cell[i], params[i], params[n + i], params[2 * n + i],
                     params[3 * n + i], theta0, d);
    s_cell[i] = d[uqo::S1_CELL];
    for (int k = 0; k < uqo::N_SINGLE_DIAG; ++k) out[k * ld + i] = (float)d[k];
  }
  block_sum_add(ok ? d[uqo::S1_NPUR] : 0.0, agg + 0);
  block_sum_add(ok ? d[uqo::S1_LEAK] : 0.0, agg + 1);
  block_sum_add(ok ? 1.0 : 0.0, agg + 2);
}

// Reliability qubits. rho: (n, 2, 2) complex64, one per agent slot; ready, entropy: (n,) float32
// out. Every row is drifted (free slots too: they are reset before use). No aggregate: the host
// sums P(reliable) over the active slots it knows.
extern "C" __global__ void __launch_bounds__(UQO_THREADS, UQO_MIN_BLOCKS)
uqo_tick_reliability(uqo::c64* rho, int n, double gamma, double p_star, float* ready,
                     float* entropy) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  double r, s;
  uqo::reliability_cell(rho + 4LL * i, gamma, p_star, &r, &s);
  ready[i] = (float)r;
  entropy[i] = (float)s;
}

// Queued outcomes: row rows[k] (distinct) measured by diag(e0[k], e1[k]); bad[k] = 1 where the
// outcome had probability ~0 (cell untouched).
extern "C" __global__ void __launch_bounds__(UQO_THREADS, UQO_MIN_BLOCKS)
uqo_observe_reliability(uqo::c64* rho, const long long* rows, const double* e0,
                        const double* e1, int m, unsigned char* bad) {
  int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= m) return;
  bad[k] = uqo::reliability_observe(rho + 4LL * rows[k], e0[k], e1[k]) ? 0 : 1;
}
