// Host build of kernels/tick.cuh for the tests: the per-cell functions the CUDA kernel runs,
// looped over cells on the CPU, so the CUDA math is checked against numpy without a GPU.
#include "tick.cuh"

extern "C" void host_tick_pairs(uqo::c64* rho, double* s_cell, const float* params, int n,
                                double coupling_dt, double theta0, double* out) {
  for (int i = 0; i < n; ++i) {
    uqo::PairIn in = {params[i], params[n + i], params[2 * n + i], params[3 * n + i],
                      params[4 * n + i], params[5 * n + i], params[6 * n + i],
                      params[7 * n + i], params[8 * n + i]};
    double d[uqo::N_PAIR_DIAG];
    uqo::pair_cell(rho + 16LL * i, s_cell[i], in, coupling_dt, theta0, d);
    s_cell[i] = d[uqo::S_CELL];
    for (int k = 0; k < uqo::N_PAIR_DIAG; ++k) out[(long long)k * n + i] = d[k];
  }
}

extern "C" void host_tick_singles(uqo::c64* rho, double* s_cell, const float* params, int n,
                                  double theta0, double* out) {
  for (int i = 0; i < n; ++i) {
    double d[uqo::N_SINGLE_DIAG];
    uqo::single_cell(rho + 4LL * i, s_cell[i], params[i], params[n + i], params[2 * n + i],
                     params[3 * n + i], theta0, d);
    s_cell[i] = d[uqo::S1_CELL];
    for (int k = 0; k < uqo::N_SINGLE_DIAG; ++k) out[(long long)k * n + i] = d[k];
  }
}
