// CUDA kernels of the agent tick: one thread per cell, the whole tick in registers (tick.cuh),
// diagnostics written once, fleet aggregates by one block reduction + one atomicAdd per block.
// Loaded by uqo.kernels.cupy_tick (cupy.RawModule, NVRTC); tests compile it with nvcc.
#include "tick.cuh"

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

// Pair cells. rho: (n, 4, 4) complex64; s_cell: (n,) float64, updated to the new cell entropy;
// params: nine (n,) float32 arrays (p_a, p_b, q_a, q_b, g_a, g_b, c, r_a, r_b) packed as
// params[k * n + i]; out: (9, ld) float32 diagnostics; agg: 5 float64 sums over the cells with
// live[i] != 0 (npurity, leak, mi, concurrence, cells), to be zeroed by the caller.
extern "C" __global__ void uqo_tick_pairs(uqo::c64* rho, double* s_cell, const float* params,
                                          const unsigned char* live, int n, double coupling_dt,
                                          double theta0, float* out, long long ld, double* agg) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  double d[uqo::N_PAIR_DIAG] = {0};
  bool ok = i < n && live[i];
  if (i < n) {
    uqo::PairIn in = {params[i], params[n + i], params[2 * n + i], params[3 * n + i],
                      params[4 * n + i], params[5 * n + i], params[6 * n + i],
                      params[7 * n + i], params[8 * n + i]};
    uqo::pair_cell(rho + 16LL * i, s_cell[i], in, coupling_dt, theta0, d);
    s_cell[i] = d[uqo::S_CELL];
    for (int k = 0; k < uqo::N_PAIR_DIAG; ++k) out[k * ld + i] = (float)d[k];
  }
  block_sum_add(ok ? d[uqo::NPUR] : 0.0, agg + 0);
  block_sum_add(ok ? d[uqo::LEAK] : 0.0, agg + 1);
  block_sum_add(ok ? d[uqo::MI] : 0.0, agg + 2);
  block_sum_add(ok ? d[uqo::CONC] : 0.0, agg + 3);
  block_sum_add(ok ? 1.0 : 0.0, agg + 4);
}

// Single cells. rho: (n, 2, 2) complex64; params: four (n,) float32 (p, q, g, r) packed;
// out: (4, ld) float32; agg: 3 float64 sums over live cells (npurity, leak, cells).
extern "C" __global__ void uqo_tick_singles(uqo::c64* rho, double* s_cell, const float* params,
                                            const unsigned char* live, int n, double theta0,
                                            float* out, long long ld, double* agg) {
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
